//! An entry of the audit log as a value: who ([`Actor`]) did what ([`AuditAction`]) to which
//! object ([`AuditObject`]), the object before and after as JSON of its domain value, and why.
//! `db::audit::record` writes it; [`changes`] turns before/after into the words the office reads
//! ("Prezzo del pasto: 4,50 € → 5,00 €").

use serde_json::Value;

use crate::{Actor, Cents};

macro_rules! keyed {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $key:literal => $label:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant,)* }

        impl $name {
            /// Every value, in the order the pages list them.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The key stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $key,)* }
            }

            /// How the office reads it.
            pub fn label_it(self) -> &'static str {
                match self { $($name::$variant => $label,)* }
            }

            /// The value stored as `key`, if any.
            pub fn from_key(key: &str) -> Option<$name> {
                match key { $($key => Some($name::$variant),)* _ => None }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::audit::UnknownKey;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::from_key(s).ok_or_else(|| $crate::audit::UnknownKey(s.to_string()))
            }
        }
    };
}
/// The one way the domain names a closed set of values with a stored key and Italian words
/// (audit actions and objects, fee frequencies…).
pub(crate) use keyed;

/// A stored key that names no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key: {0}")]
pub struct UnknownKey(pub String);

keyed! {
    /// What was done.
    AuditAction {
        OfficePayment = "office_payment" => "Pagamento registrato dall'ufficio",
        ReconcileReceipt = "reconcile_receipt" => "Ricevuta pagoPA riconciliata",
        DismissReceipt = "dismiss_receipt" => "Ricevuta pagoPA scartata",
        Adjustment = "adjustment" => "Rettifica",
        Refund = "refund" => "Rimborso",
        Transfer = "transfer" => "Giroconto",
        AddClosure = "add_closure" => "Chiusura del servizio",
        CorrectAttendance = "correct_attendance" => "Correzione delle presenze",
        ValidateEnrolment = "validate_enrolment" => "Iscrizione confermata dalla scuola",
        ReportEnrolment = "report_enrolment" => "Iscrizione segnalata dalla scuola",
        UpdateContacts = "update_contacts" => "Contatti modificati dalla famiglia",
        Activate = "activate" => "Attivazione dell'accesso",
        ActivateWithCode = "activate_with_code" => "Attivazione dell'accesso con il codice dell'ufficio",
        ActivationCode = "activation_code" => "Codice di attivazione dato al genitore",
        ConfirmLogin = "confirm_login" => "Account registrato online confermato dall'ufficio",
        IdentityProfile = "identity_profile" => "Profilo creato al primo accesso con SPID o CIE",
        Settings = "settings" => "Impostazioni del servizio",
        PublishNews = "publish_news" => "Notizia pubblicata",
        WithdrawNews = "withdraw_news" => "Notizia ritirata",
        PublishDocument = "publish_document" => "Documento pubblicato",
        WithdrawDocument = "withdraw_document" => "Documento ritirato",
        Import = "import" => "Importazione dal gestionale precedente",
        RegistryAdd = "registry_add" => "Anagrafica: inserimento",
        RegistryEdit = "registry_edit" => "Anagrafica: modifica",
        RegistryDelete = "registry_delete" => "Anagrafica: eliminazione",
        AddFamily = "add_family" => "Famiglia aggiunta",
        UpdateGuardian = "update_guardian" => "Genitore modificato",
        AddPupil = "add_pupil" => "Alunno aggiunto",
        UpdatePupil = "update_pupil" => "Alunno modificato",
        AddDelegate = "add_delegate" => "Delegato aggiunto alla famiglia",
        ChangePayer = "change_payer" => "Cambio dell'intestatario",
        Enrol = "enrol" => "Iscrizione a un servizio",
        ScheduleEnrolmentChange = "schedule_enrolment_change" => "Variazione dell'iscrizione programmata",
        ApplyEnrolmentChange = "apply_enrolment_change" => "Variazione dell'iscrizione applicata",
        CreateTenant = "create_tenant" => "Comune creato dall'amministratore della piattaforma",
        AddStaff = "add_staff" => "Utente del personale aggiunto",
        DeactivateStaff = "deactivate_staff" => "Utente del personale disattivato",
        ReactivateStaff = "reactivate_staff" => "Utente del personale riattivato",
        SetStaffSchools = "set_staff_schools" => "Scuole di un utente della scuola",
        ChannelSettings = "messaging_settings" => "Canali di comunicazione (SMS, App IO)",
        FeeRule = "fee_rule" => "Regola delle quote di un servizio",
        IssueFees = "issue_fees" => "Emissione delle quote",
        CancelFee = "cancel_fee" => "Quota annullata",
        FeeDueDate = "fee_due_date" => "Scadenza di una quota cambiata",
        FeePaidElsewhere = "fee_paid_elsewhere" => "Quota pagata altrove, registrata dall'ufficio",
        IdentitySettings = "identity_settings" => "Accesso con l'identità digitale (SPID, CIE, OpenID Connect)",
        SendCommunication = "send_communication" => "Comunicazione alle famiglie",
    }
}

keyed! {
    /// The kind of object changed.
    ObjectKind {
        School = "school" => "Scuola",
        Class = "class" => "Classe",
        SchoolYear = "school_year" => "Anno scolastico",
        Service = "service" => "Servizio",
        TariffBand = "tariff_band" => "Fascia tariffaria",
        Diet = "diet" => "Dieta",
        SiblingReduction = "sibling_reduction" => "Riduzione per i fratelli",
        Family = "family" => "Famiglia",
        Guardian = "guardian" => "Genitore",
        Pupil = "pupil" => "Alunno",
        Enrolment = "enrolment" => "Iscrizione",
        LedgerEntry = "ledger_entry" => "Movimento",
        PagopaReceipt = "pagopa_receipt" => "Ricevuta pagoPA",
        Position = "payment_position" => "Avviso pagoPA",
        Closure = "closure" => "Chiusura",
        News = "news" => "Notizia",
        Document = "document" => "Documento",
        ImportJob = "import_job" => "Importazione",
        StaffUser = "staff_user" => "Utente del personale",
        Tenant = "tenant" => "Comune",
        Settings = "settings" => "Impostazioni",
        Communication = "communication" => "Comunicazione",
    }
}

/// What was changed: its kind and, when it has one, its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuditObject {
    pub kind: ObjectKind,
    pub id: Option<i64>,
}

impl AuditObject {
    /// The object `kind` number `id`.
    pub fn new(kind: ObjectKind, id: i64) -> AuditObject {
        AuditObject { kind, id: Some(id) }
    }
}

/// One entry of the audit log, before it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub actor: Actor,
    pub action: AuditAction,
    pub object: AuditObject,
    /// The object before the change (JSON of its domain value), `None` for a creation.
    pub before: Option<Value>,
    /// The object after the change, `None` for a deletion.
    pub after: Option<Value>,
    /// Why, in the operator's words (may be empty).
    pub reason: String,
}

impl AuditEntry {
    /// An entry with no before, no after and no reason; fill them with the builders below.
    pub fn new(actor: Actor, action: AuditAction, object: AuditObject) -> AuditEntry {
        AuditEntry {
            actor,
            action,
            object,
            before: None,
            after: None,
            reason: String::new(),
        }
    }

    pub fn before(mut self, v: impl Into<Option<Value>>) -> AuditEntry {
        self.before = v.into();
        self
    }

    pub fn after(mut self, v: impl Into<Option<Value>>) -> AuditEntry {
        self.after = v.into();
        self
    }

    pub fn reason(mut self, r: impl Into<String>) -> AuditEntry {
        self.reason = r.into();
        self
    }
}

/// How an object is named on the audit page: "Alunno Sofia Rossi", "Scuola Collodi",
/// "Iscrizione n. 12"; the name comes from the snapshot when it has one.
pub fn object_label(
    kind: Option<ObjectKind>,
    raw_kind: &str,
    id: Option<i64>,
    snapshot: Option<&Value>,
) -> String {
    let kind_label = kind.map_or_else(|| raw_kind.replace('_', " "), |k| k.label_it().into());
    let text = |k: &str| {
        snapshot
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let name = match (text("first_name"), text("last_name")) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        _ => text("name")
            .or_else(|| text("display_name"))
            .or_else(|| text("title"))
            .or_else(|| text("label")),
    };
    match (name, id) {
        (Some(n), _) => format!("{kind_label} {n}"),
        (None, Some(id)) => format!("{kind_label} n. {id}"),
        (None, None) => kind_label,
    }
}

/// One changed field as the office reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// "Prezzo del pasto", "Genitore – E-mail".
    pub field: String,
    /// The value before, formatted ("4,50 €", "15/09/2027", "sì"); `None` when it had none.
    pub before: Option<String>,
    pub after: Option<String>,
}

/// The fields that differ between `before` and `after` (all of them when one is missing), in
/// the order of the snapshot, with Italian labels and formatted values. Nested objects become
/// "Parent – Field".
pub fn changes(before: Option<&Value>, after: Option<&Value>) -> Vec<Change> {
    let (mut b, mut a) = (Vec::new(), Vec::new());
    if let Some(v) = before {
        flatten("", None, v, &mut b);
    }
    if let Some(v) = after {
        flatten("", None, v, &mut a);
    }
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (field, _) in a.iter().chain(b.iter()) {
        if !seen.insert(field.clone()) {
            continue;
        }
        let find =
            |l: &[(String, String)]| l.iter().find(|(f, _)| f == field).map(|(_, v)| v.clone());
        let (old, new) = (find(&b), find(&a));
        if before.is_some() && after.is_some() && old == new {
            continue;
        }
        out.push(Change {
            field: field.clone(),
            before: old,
            after: new,
        });
    }
    out
}

fn flatten(prefix: &str, key: Option<&str>, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, inner) in map {
                let label = field_label(k);
                let path = if prefix.is_empty() {
                    label
                } else {
                    format!("{prefix} – {label}")
                };
                flatten(&path, Some(k), inner, out);
            }
        }
        _ => {
            let field = if prefix.is_empty() {
                "Valore".to_string()
            } else {
                prefix.to_string()
            };
            out.push((field, value_it(key.unwrap_or_default(), v)));
        }
    }
}

/// The Italian label of a snapshot's field; an unknown key is shown with spaces.
pub fn field_label(key: &str) -> String {
    let label = match key {
        "account" => "Conto",
        "active" => "Attivo",
        "address" => "Indirizzo",
        "amount_cents" => "Importo",
        "attendance" => "Presenza",
        "band" => "Fascia",
        "basis_points" => "Riduzione (punti base)",
        "billing" => "Addebito",
        "birth_date" => "Data di nascita",
        "bytes" => "Dimensione (byte)",
        "can_see_payments" => "Vede i pagamenti",
        "canteen_weekdays" => "Giorni di mensa",
        "card_code" => "Codice tessera",
        "category" => "Categoria",
        "channel" => "Canale",
        "class" => "Classe",
        "clear_diet" => "Dieta tolta",
        "code" => "Codice",
        "cutoff" | "cutoff_time" => "Orario limite",
        "day" => "Giorno",
        "diet" => "Dieta",
        "display_name" => "Nome",
        "effective_on" => "Dal giorno",
        "email" => "E-mail",
        "ends_on" => "Fine",
        "enrolments_repriced" => "Iscrizioni ricalcolate",
        "exempt" => "Esente",
        "family" => "Famiglia",
        "file" | "file_name" => "File",
        "first_day" => "Primo giorno",
        "first_name" => "Nome",
        "fiscal_code" => "Codice fiscale",
        "fixed_fee_cents" => "Quota fissa",
        "from" => "Da",
        "from_rank" => "Dal figlio n.",
        "guardian" => "Genitore",
        "isee_cents" => "ISEE",
        "isee_max_cents" => "ISEE fino a",
        "isee_min_cents" => "ISEE da",
        "kind" => "Tipo",
        "kitchen_email" => "E-mail del centro cottura",
        "label" => "Nome",
        "last_day" => "Ultimo giorno",
        "last_name" => "Cognome",
        "meal_price_cents" => "Prezzo del pasto",
        "meals_reversed" => "Pasti stornati",
        "notify_email" => "Avvisi per e-mail",
        "notify_sms" => "Avvisi per SMS",
        "notify_app_io" => "Avvisi nell'app IO",
        "name" => "Nome",
        "new" => "Nuovo",
        "payer" => "Intestatario",
        "phone" => "Telefono",
        "present" => "Presente",
        "published_on" => "Pubblicato il",
        "pupil" => "Alunno",
        "reason" => "Motivo",
        "receipt" => "Ricevuta",
        "reference" => "Riferimento",
        "repriced_from" => "Nuovi importi dal",
        "residency" => "Residenza",
        "resident" => "Residente",
        "role" => "Ruolo",
        "rows" => "Righe",
        "school" | "school_id" => "Scuola",
        "school_year_id" => "Anno scolastico",
        "scuole" => "Scuole",
        "service" | "service_id" => "Servizio",
        "settings" => "Impostazioni",
        "slug" => "Indirizzo breve",
        "start_date" | "starts_on" => "Inizio",
        "state" => "Stato",
        "status" => "Stato",
        "timezone" => "Fuso orario",
        "title" => "Titolo",
        "to" => "A",
        "username" => "Nome utente",
        "visible_from" => "Visibile dal",
        "visible_to" => "Visibile fino al",
        // Settings of the service.
        "office_email" => "E-mail dell'ufficio",
        "office_phone" => "Telefono dell'ufficio",
        "mail_from_name" => "Mittente delle e-mail",
        "mail_reply_to" => "Risposte alle e-mail",
        "citizen_local_login" => "Accesso con password per le famiglie",
        "booking_days_ahead" => "Giorni di prenotazione in anticipo",
        "bland_enabled" => "Pasti in bianco",
        "bland_max_consecutive" => "Pasti in bianco consecutivi al massimo",
        "max_range_days" => "Giorni al massimo per richiesta",
        "bland_meal_free" => "Pasto in bianco gratuito",
        "low_balance_meals" => "Avviso di credito basso (pasti)",
        "cutoff_by_school_kind" => "Orario limite per tipo di scuola",
        "pagopa" => "pagoPA",
        "mode" => "Modalità",
        "broker_id" => "Intermediario",
        "station_id" => "Stazione",
        "segregation_code" => "Codice di segregazione",
        "ibans" => "IBAN",
        "postal_account" => "Conto postale",
        "postal_holder" => "Intestatario del conto postale",
        "cbill" => "Codice CBILL",
        "checkout_base_url" => "Indirizzo di Checkout",
        "checkout_key" => "Chiave di Checkout",
        "max_recharge_cents" => "Ricarica massima",
        "recharge_due_days" => "Scadenza degli avvisi (giorni)",
        "sector" => "Settore",
        // Channels (SMS gateway, App IO) and the office's communications.
        "messaging" => "Canali",
        "sms" => "SMS",
        "app_io" => "App IO",
        "url" => "Indirizzo",
        "auth" => "Autenticazione",
        "auth_header" => "Intestazione con il segreto",
        "basic_user" => "Utente",
        "recipient_field" => "Campo del destinatario",
        "text_field" => "Campo del testo",
        "sender_field" => "Campo del mittente",
        "sender" => "Mittente",
        "body" => "Formato",
        "base_url" => "Indirizzo dell'API",
        "subject" => "Oggetto",
        "audience" => "Destinatari",
        "families" => "Famiglie",
        other => return other.replace('_', " "),
    };
    label.to_string()
}

/// A snapshot's value in Italian: money for `*_cents`, dd/mm/yyyy for dates, sì/no, "—" for
/// nothing; lists joined by commas.
pub fn value_it(key: &str, v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::Bool(true) => "sì".into(),
        Value::Bool(false) => "no".into(),
        Value::Number(n) => match n.as_i64() {
            Some(c) if key.ends_with("_cents") => Cents(c).format_it(),
            _ => n.to_string(),
        },
        Value::String(s) => match s.parse::<jiff::civil::Date>() {
            Ok(d) if s.len() == 10 => d.strftime("%d/%m/%Y").to_string(),
            _ if s.is_empty() => "—".into(),
            _ => s.clone(),
        },
        Value::Array(items) if items.is_empty() => "—".into(),
        Value::Array(items) => items
            .iter()
            .map(|i| value_it(key, i))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(map) => map
            .iter()
            .map(|(k, i)| format!("{}: {}", field_label(k), value_it(k, i)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_round_trip_and_have_labels() {
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>(), Ok(*a));
            assert!(!a.label_it().is_empty());
        }
        for k in ObjectKind::ALL {
            assert_eq!(k.as_str().parse::<ObjectKind>(), Ok(*k));
        }
        assert!("nothing".parse::<AuditAction>().is_err());
    }

    #[test]
    fn changes_are_words_not_json() {
        let before = json!({"name": "Collodi", "meal_price_cents": 450, "exempt": false,
                            "start_date": "2027-09-15", "email": null});
        let after = json!({"name": "Collodi", "meal_price_cents": 500, "exempt": true,
                           "start_date": "2027-09-15", "email": "a@b.it"});
        let c = changes(Some(&before), Some(&after));
        let shown: Vec<_> = c
            .iter()
            .map(|c| {
                format!(
                    "{}: {} → {}",
                    c.field,
                    c.before.as_deref().unwrap_or("—"),
                    c.after.as_deref().unwrap_or("—")
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                "E-mail: — → a@b.it",
                "Esente: no → sì",
                "Prezzo del pasto: 4,50 € → 5,00 €",
            ]
        );
    }

    #[test]
    fn a_creation_shows_every_field_and_nested_ones() {
        let after = json!({"guardian": {"first_name": "Mario"}, "birth_date": "2019-03-02"});
        let c = changes(None, Some(&after));
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].field, "Data di nascita");
        assert_eq!(c[0].after.as_deref(), Some("02/03/2019"));
        assert_eq!(c[1].field, "Genitore – Nome");
        assert_eq!(c[1].before, None);
        let plain = changes(Some(&json!("presente")), Some(&json!("assente")));
        assert_eq!(plain[0].field, "Valore");
    }

    #[test]
    fn objects_are_named() {
        let pupil = json!({"first_name": "Sofia", "last_name": "Rossi"});
        let k = Some(ObjectKind::Pupil);
        assert_eq!(
            object_label(k, "pupil", Some(3), Some(&pupil)),
            "Alunno Sofia Rossi"
        );
        let e = Some(ObjectKind::Enrolment);
        assert_eq!(
            object_label(e, "enrolment", Some(12), None),
            "Iscrizione n. 12"
        );
        assert_eq!(object_label(None, "old_thing", None, None), "old thing");
    }
}
