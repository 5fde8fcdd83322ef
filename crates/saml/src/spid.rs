//! What SPID and CIE add to SAML: the two profiles, the authentication levels and the
//! error codes an identity provider reports about the person.

/// Which federation: SPID, or CIE (CIE ID, the electronic identity card), which has its own
/// metadata profile and attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    Spid,
    Cie,
}

impl Profile {
    /// In paths and stored rows: `spid`, `cie`.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Spid => "spid",
            Profile::Cie => "cie",
        }
    }

    pub fn parse(s: &str) -> Option<Profile> {
        match s {
            "spid" => Some(Profile::Spid),
            "cie" => Some(Profile::Cie),
            _ => None,
        }
    }

    pub fn label_it(self) -> &'static str {
        match self {
            Profile::Spid => "SPID",
            Profile::Cie => "CIE",
        }
    }

    /// The attributes asked for: SPID gives contacts too; CIE only these four.
    pub fn attributes(self) -> &'static [&'static str] {
        match self {
            Profile::Spid => &["fiscalNumber", "name", "familyName", "email", "mobilePhone"],
            Profile::Cie => &["fiscalNumber", "name", "familyName", "dateOfBirth"],
        }
    }
}

/// The level of assurance of an authentication (`SpidL1` password, `SpidL2` a second
/// factor, `SpidL3` a device); CIE uses the same values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    L1,
    L2,
    L3,
}

impl Level {
    pub fn uri(self) -> &'static str {
        match self {
            Level::L1 => "https://www.spid.gov.it/SpidL1",
            Level::L2 => "https://www.spid.gov.it/SpidL2",
            Level::L3 => "https://www.spid.gov.it/SpidL3",
        }
    }

    pub fn from_uri(uri: &str) -> Option<Level> {
        [Level::L1, Level::L2, Level::L3]
            .into_iter()
            .find(|l| l.uri() == uri)
    }

    pub fn number(self) -> u8 {
        match self {
            Level::L1 => 1,
            Level::L2 => 2,
            Level::L3 => 3,
        }
    }

    pub fn from_number(n: u8) -> Option<Level> {
        [Level::L1, Level::L2, Level::L3]
            .into_iter()
            .find(|l| l.number() == n)
    }
}

/// What the person is told when the identity provider answers with an error about them
/// (AgID, "Tabella messaggi di errore", anomalies caused by the user: codes 19–25 and 30).
/// The rules give the reason; the wording is ours. `None`: a code with no message of its own.
pub fn error_message_it(code: u16) -> Option<&'static str> {
    Some(match code {
        19 => {
            "Accesso non riuscito: sono state inserite credenziali errate troppe volte. Attendi e riprova, oppure recupera le credenziali presso il tuo gestore dell'identità digitale."
        }
        20 => {
            "La tua identità digitale non ha il livello di sicurezza richiesto da questo servizio. Attiva presso il tuo gestore l'accesso con un secondo fattore (ad esempio l'app o un codice OTP) e riprova."
        }
        21 => {
            "Il tempo per completare l'accesso è scaduto. Riprova: l'autenticazione va completata entro pochi minuti."
        }
        22 => {
            "Non hai dato il consenso a inviare i tuoi dati al Comune, quindi l'accesso non è possibile. Riprova e acconsenti all'invio dei dati."
        }
        23 => {
            "La tua identità digitale risulta sospesa o revocata, oppure le credenziali sono bloccate. Contatta il tuo gestore dell'identità digitale."
        }
        25 => "Hai annullato l'accesso. Puoi riprovare quando vuoi.",
        30 => {
            "Hai usato un'identità digitale diversa da quella richiesta (ad esempio per uso professionale). Accedi con la tua identità digitale personale."
        }
        _ => return None,
    })
}
