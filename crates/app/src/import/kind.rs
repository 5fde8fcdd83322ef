//! What a file holds: the kinds of import and the columns of each, with their templates.

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportKind {
    Guardians,
    Pupils,
    Enrolments,
    Balances,
}

/// One column of a kind's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The header, as the template writes it (matched ignoring case, accents and spaces).
    pub header: &'static str,
    pub required: bool,
    /// What goes in it (Italian).
    pub help: &'static str,
    /// The template's example value.
    pub example: &'static str,
}

const fn col(
    header: &'static str,
    required: bool,
    help: &'static str,
    example: &'static str,
) -> Column {
    Column {
        header,
        required,
        help,
        example,
    }
}

// Column positions of each layout (indexes into the kind's `columns()`).
pub(super) const G_CF: usize = 0;
pub(super) const G_LAST: usize = 1;
pub(super) const G_FIRST: usize = 2;
pub(super) const G_EMAIL: usize = 3;
pub(super) const G_PHONE: usize = 4;
pub(super) const G_ADDRESS: usize = 5;
pub(super) const G_RESIDENT: usize = 6;
pub(super) const G_ISEE: usize = 7;
pub(super) const G_PAYER: usize = 8;
pub(super) const G_SEES: usize = 9;

pub(super) const GUARDIAN_COLUMNS: [Column; 10] = [
    col(
        "Codice fiscale",
        true,
        "Codice fiscale del genitore o tutore.",
        "RSSMRA80A01H501U",
    ),
    col("Cognome", true, "", "Rossi"),
    col("Nome", true, "", "Mario"),
    col("Email", false, "", "mario.rossi@example.org"),
    col("Telefono", false, "", "3331234567"),
    col("Indirizzo", false, "", "Via Roma 1, Esempio"),
    col(
        "Residente",
        false,
        "sì o no (vuoto = sì): sceglie la fascia tariffaria.",
        "sì",
    ),
    col(
        "ISEE",
        false,
        "Solo per l'intestatario: ISEE della famiglia in euro (vuoto = non dichiarato).",
        "12.500,00",
    ),
    col(
        "Codice fiscale intestatario",
        false,
        "Vuoto se questa persona è l'intestatario (chi paga); altrimenti il codice fiscale dell'intestatario della famiglia, che diventa delegato.",
        "",
    ),
    col(
        "Vede i pagamenti",
        false,
        "Solo per i delegati: sì o no (vuoto = no).",
        "",
    ),
];

pub(super) const P_CF: usize = 0;
pub(super) const P_LAST: usize = 1;
pub(super) const P_FIRST: usize = 2;
pub(super) const P_BIRTH: usize = 3;
pub(super) const P_PAYER: usize = 4;

const PUPIL_COLUMNS: [Column; 5] = [
    col(
        "Codice fiscale",
        true,
        "Codice fiscale dell'alunno.",
        "RSSLCU18E10H501J",
    ),
    col("Cognome", true, "", "Rossi"),
    col("Nome", true, "", "Luca"),
    col(
        "Data di nascita",
        true,
        "gg/mm/aaaa oppure aaaa-mm-gg.",
        "10/05/2018",
    ),
    col(
        "Codice fiscale intestatario",
        true,
        "Il genitore che paga, già importato con il file dei genitori.",
        "RSSMRA80A01H501U",
    ),
];

pub(super) const E_PUPIL: usize = 0;
pub(super) const E_SERVICE: usize = 1;
pub(super) const E_YEAR: usize = 2;
pub(super) const E_SCHOOL: usize = 3;
pub(super) const E_CLASS: usize = 4;
pub(super) const E_BAND: usize = 5;
pub(super) const E_PRICE: usize = 6;
pub(super) const E_DIET: usize = 7;
pub(super) const E_STATE: usize = 8;
pub(super) const E_START: usize = 9;
pub(super) const E_CARD: usize = 10;

pub(super) const ENROLMENT_COLUMNS: [Column; 11] = [
    col(
        "Codice fiscale alunno",
        true,
        "L'alunno, già importato con il file degli alunni.",
        "RSSLCU18E10H501J",
    ),
    col("Servizio", true, "Refezione o Trasporto.", "Refezione"),
    col(
        "Anno scolastico",
        true,
        "Ad esempio 2026/2027.",
        "2026/2027",
    ),
    col(
        "Scuola",
        true,
        "Il nome della scuola come nel registro del Comune.",
        "Scuola primaria Gianni Rodari",
    ),
    col(
        "Classe",
        true,
        "Il nome della classe in quella scuola.",
        "3 A",
    ),
    col(
        "Fascia",
        true,
        "Il nome della fascia tariffaria del servizio.",
        "Fascia 3 (ISEE da 8.000,01 a 13.000 €)",
    ),
    col(
        "Prezzo pasto",
        false,
        "In euro, con le riduzioni già applicate; vuoto = il prezzo della fascia.",
        "",
    ),
    col(
        "Dieta",
        false,
        "Il codice della dieta (vuoto = nessuna).",
        "",
    ),
    col(
        "Stato",
        false,
        "attivo o disattivo (vuoto = attivo).",
        "attivo",
    ),
    col(
        "Data inizio",
        true,
        "gg/mm/aaaa oppure aaaa-mm-gg.",
        "14/09/2026",
    ),
    col(
        "Tessera",
        true,
        "Il codice tessera che la famiglia già conosce.",
        "ABC-0001",
    ),
];

pub(super) const B_PAYER: usize = 0;
pub(super) const B_SERVICE: usize = 1;
pub(super) const B_YEAR: usize = 2;
pub(super) const B_AMOUNT: usize = 3;
pub(super) const B_DAY: usize = 4;
pub(super) const B_NOTE: usize = 5;

pub(super) const BALANCE_COLUMNS: [Column; 6] = [
    col(
        "Codice fiscale intestatario",
        true,
        "L'intestatario della famiglia, già importato.",
        "RSSMRA80A01H501U",
    ),
    col("Servizio", true, "Refezione o Trasporto.", "Refezione"),
    col(
        "Anno scolastico",
        true,
        "L'anno del conto su cui riportare il saldo.",
        "2026/2027",
    ),
    col(
        "Saldo",
        true,
        "In euro: positivo se è un credito, negativo (con il segno meno) se è un debito.",
        "-12,50",
    ),
    col(
        "Data",
        false,
        "La data del saldo (vuoto = oggi).",
        "31/08/2026",
    ),
    col(
        "Nota",
        false,
        "Resta nel movimento (vuoto = «Saldo iniziale dal gestionale precedente»).",
        "",
    ),
];

impl ImportKind {
    pub const ALL: [ImportKind; 4] = [
        ImportKind::Guardians,
        ImportKind::Pupils,
        ImportKind::Enrolments,
        ImportKind::Balances,
    ];

    /// The value stored in `import_job.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Guardians => "guardians",
            ImportKind::Pupils => "pupils",
            ImportKind::Enrolments => "enrolments",
            ImportKind::Balances => "balances",
        }
    }

    pub fn parse(s: &str) -> Option<ImportKind> {
        ImportKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The Italian word in forms and addresses.
    pub fn slug(self) -> &'static str {
        match self {
            ImportKind::Guardians => "genitori",
            ImportKind::Pupils => "alunni",
            ImportKind::Enrolments => "iscrizioni",
            ImportKind::Balances => "saldi",
        }
    }

    pub fn from_slug(s: &str) -> Option<ImportKind> {
        ImportKind::ALL.into_iter().find(|k| k.slug() == s)
    }

    pub fn label_it(self) -> &'static str {
        match self {
            ImportKind::Guardians => "Genitori e tutori",
            ImportKind::Pupils => "Alunni",
            ImportKind::Enrolments => "Iscrizioni ai servizi",
            ImportKind::Balances => "Saldi iniziali",
        }
    }

    /// The documented column layout of the kind.
    pub fn columns(self) -> &'static [Column] {
        match self {
            ImportKind::Guardians => &GUARDIAN_COLUMNS,
            ImportKind::Pupils => &PUPIL_COLUMNS,
            ImportKind::Enrolments => &ENROLMENT_COLUMNS,
            ImportKind::Balances => &BALANCE_COLUMNS,
        }
    }

    /// The template: UTF-8 with BOM, `;`, the headers and one example row.
    pub fn template_csv(self) -> Vec<u8> {
        let mut out = "\u{feff}".as_bytes().to_vec();
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        let headers: Vec<&str> = self.columns().iter().map(|c| c.header).collect();
        let example: Vec<&str> = self.columns().iter().map(|c| c.example).collect();
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&headers);
        let _ = w.write_record(&example);
        if let Ok(body) = w.into_inner() {
            out.extend(body);
        }
        out
    }
}
