//! The audit log as the office reads it: labels of actions, a page at a time.

use jiff::civil::Date;
use refettorio_db::Db;
use refettorio_db::audit::{self, AuditFilter, AuditRecord};
use refettorio_db::registry::tenant::Tenant;

use crate::AppError;

/// The actions written to the audit log, with what the office reads for each.
pub const AUDIT_ACTIONS: &[(&str, &str)] = &[
    ("office_payment", "Pagamento registrato dall'ufficio"),
    ("reconcile_receipt", "Ricevuta pagoPA riconciliata"),
    ("adjustment", "Rettifica"),
    ("refund", "Rimborso"),
    ("transfer", "Giroconto"),
    ("add_closure", "Chiusura del servizio"),
    ("correct_attendance", "Correzione delle presenze"),
    ("validate_enrolment", "Iscrizione confermata dalla scuola"),
    ("report_enrolment", "Iscrizione segnalata dalla scuola"),
    ("update_contacts", "Contatti modificati dalla famiglia"),
    ("activate", "Attivazione dell'accesso"),
    (
        "activate_with_code",
        "Attivazione dell'accesso con il codice dell'ufficio",
    ),
    ("activation_code", "Codice di attivazione dato al genitore"),
    (
        "confirm_login",
        "Account registrato online confermato dall'ufficio",
    ),
    ("settings", "Impostazioni del servizio"),
    ("publish_news", "Notizia pubblicata"),
    ("withdraw_news", "Notizia ritirata"),
    ("publish_document", "Documento pubblicato"),
    ("withdraw_document", "Documento ritirato"),
    ("import", "Importazione dal gestionale precedente"),
    ("registry_add", "Anagrafica: inserimento"),
    ("registry_edit", "Anagrafica: modifica"),
    ("registry_delete", "Anagrafica: eliminazione"),
    ("add_family", "Famiglia aggiunta"),
    ("update_guardian", "Genitore modificato"),
    ("add_pupil", "Alunno aggiunto"),
    ("update_pupil", "Alunno modificato"),
    ("add_delegate", "Delegato aggiunto alla famiglia"),
    ("change_payer", "Cambio dell'intestatario"),
    ("enrol", "Iscrizione a un servizio"),
    (
        "schedule_enrolment_change",
        "Variazione dell'iscrizione programmata",
    ),
    (
        "apply_enrolment_change",
        "Variazione dell'iscrizione applicata",
    ),
    (
        "create_tenant",
        "Comune creato dall'amministratore della piattaforma",
    ),
    ("add_staff", "Utente del personale aggiunto"),
    ("deactivate_staff", "Utente del personale disattivato"),
    ("reactivate_staff", "Utente del personale riattivato"),
    ("set_staff_schools", "Scuole di un utente della scuola"),
];

/// The label of an action, or the action itself when it has none.
pub fn action_label(action: &str) -> &str {
    AUDIT_ACTIONS
        .iter()
        .find(|(k, _)| *k == action)
        .map_or(action, |(_, l)| l)
}

/// Rows of the audit log shown per page.
pub const AUDIT_PAGE: u32 = 50;

/// A page of the audit log (1-based), newest first, for an action and the days `from..=to`
/// in the municipality's time zone; and whether there is a next page.
pub async fn audit_log(
    db: &Db,
    tenant: &Tenant,
    action: Option<&str>,
    actor: Option<&str>,
    from: Option<Date>,
    to: Option<Date>,
    page: u32,
) -> Result<(Vec<AuditRecord>, bool), AppError> {
    let start = |d: Date| -> Result<jiff::Timestamp, AppError> {
        Ok(d.to_zoned(tenant.timezone.clone())?.timestamp())
    };
    let filter = AuditFilter {
        action,
        from: from.map(start).transpose()?,
        before: to.map(|d| start(d.tomorrow()?)).transpose()?,
        actor,
    };
    let offset = u64::from(page.max(1) - 1) * u64::from(AUDIT_PAGE);
    let mut h = db.acquire().await?;
    let mut rows = audit::search(&mut h.conn(), tenant.id, &filter, AUDIT_PAGE + 1, offset).await?;
    let more = rows.len() > AUDIT_PAGE as usize;
    rows.truncate(AUDIT_PAGE as usize);
    Ok((rows, more))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_have_labels() {
        assert_eq!(action_label("refund"), "Rimborso");
        assert_eq!(action_label("something_new"), "something_new");
    }
}
