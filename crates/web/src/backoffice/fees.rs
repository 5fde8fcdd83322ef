//! The office's post-paid fees ("Quote e avvisi", issue 17): for each post-paid service of the
//! school year, its fee rule (frequency, pro rata, enrolment fee, IBAN, taxonomy code, due
//! days, expiry), the issuing run of a period with a preview first ("Anteprima", nothing
//! written) and the issue ("Emetti"), and the fees issued with their state. Checked and done
//! by [`refettorio_app::fees`].

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::AppError;
use refettorio_app::fees::{self, IssueRequest, Issued, ServiceFees};
use refettorio_domain::fees::{FeeRule, Frequency, ProRata};
use refettorio_domain::{Cents, ServiceId};
use serde::Deserialize;

use super::{Section, Staff};
use crate::filters;
use crate::form::{FieldErrors, FormResult};
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

pub(crate) const FEES: Section = Section {
    path: "/quote",
    title: "Quote e avvisi",
    summary: "Servizi a pagamento posticipato (trasporto, nido): regola delle quote, emissione degli avvisi pagoPA di un periodo con anteprima, quote emesse.",
    roles: super::OFFICE,
};

/// The rule form as typed (names are those of the field errors).
#[derive(Deserialize, Default, Clone)]
pub(crate) struct RuleForm {
    #[serde(default)]
    frequency: String,
    #[serde(default)]
    pro_rata: String,
    #[serde(default)]
    enrolment_fee: String,
    #[serde(default)]
    iban: String,
    #[serde(default)]
    taxonomy: String,
    #[serde(default)]
    due_days: String,
    #[serde(default)]
    expires: Option<String>,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

impl RuleForm {
    fn of(r: Option<&FeeRule>) -> RuleForm {
        match r {
            Some(r) => RuleForm {
                frequency: r.frequency.as_str().into(),
                pro_rata: r.pro_rata.as_str().into(),
                enrolment_fee: r.enrolment_fee.format_number_it(),
                iban: r.iban.clone(),
                taxonomy: r.taxonomy.clone(),
                due_days: r.due_days.to_string(),
                expires: r.expires.then(|| "1".into()),
                csrf: String::new(),
            },
            None => RuleForm {
                frequency: Frequency::Monthly.as_str().into(),
                pro_rata: ProRata::Whole.as_str().into(),
                due_days: "30".into(),
                ..RuleForm::default()
            },
        }
    }

    /// The rule, or the errors of the fields that are not numbers.
    fn rule(&self) -> Result<FeeRule, AppError> {
        let mut errors = Vec::new();
        let mut field = |field: &'static str, message: &str| {
            errors.push(refettorio_app::FieldError {
                field,
                message: message.into(),
            });
        };
        let frequency = Frequency::from_key(&self.frequency);
        if frequency.is_none() {
            field("frequency", "Scegli la frequenza delle quote.");
        }
        let pro_rata = ProRata::from_key(&self.pro_rata);
        if pro_rata.is_none() {
            field(
                "pro_rata",
                "Scegli come si paga un periodo iniziato o finito a metà.",
            );
        }
        let fee = match self.enrolment_fee.trim() {
            "" => Some(Cents::ZERO),
            v => Cents::parse_it(v).ok(),
        };
        if fee.is_none() {
            field(
                "enrolment_fee",
                "Importo non valido: ad esempio 30 oppure 30,00.",
            );
        }
        let due_days = self.due_days.trim().parse::<u16>().ok();
        if due_days.is_none() {
            field("due_days", "Giorni alla scadenza: da 1 a 365.");
        }
        match (frequency, pro_rata, fee, due_days) {
            (Some(frequency), Some(pro_rata), Some(enrolment_fee), Some(due_days))
                if errors.is_empty() =>
            {
                Ok(FeeRule {
                    frequency,
                    pro_rata,
                    enrolment_fee,
                    iban: self.iban.trim().to_uppercase().replace(' ', ""),
                    taxonomy: self.taxonomy.trim().into(),
                    due_days,
                    expires: self.expires.is_some(),
                })
            }
            _ => Err(AppError::Fields(errors)),
        }
    }
}

/// The issuing form as typed.
#[derive(Deserialize, Default, Clone)]
pub(crate) struct IssueForm {
    #[serde(default)]
    periodo: String,
    #[serde(default)]
    scadenza: String,
    /// `anteprima` or `emetti`.
    #[serde(default)]
    azione: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

#[derive(Deserialize, Default)]
pub(crate) struct FeesQuery {
    servizio: Option<i64>,
    esito: Option<String>,
}

/// A fee as the list shows it.
struct Row {
    id: i64,
    period: String,
    debtor: String,
    notice: String,
    amount: String,
    due: String,
    state: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/fees.html")]
struct FeesPage<'a> {
    frame: Frame<'a>,
    /// The post-paid services: (id, name), and the one shown.
    services: Vec<(i64, String)>,
    shown: Option<ServiceFees>,
    rule: RuleForm,
    rule_errors: FieldErrors,
    frequencies: Vec<(&'static str, &'static str)>,
    pro_ratas: Vec<(&'static str, &'static str)>,
    issue: IssueForm,
    /// The run's refusal, in Italian.
    issue_error: Option<String>,
    /// The preview or the run done.
    outcome: Option<(bool, Issued)>,
    notice: Option<&'static str>,
    rows: Vec<Row>,
}
framed!(FeesPage);

struct Shown {
    service: Option<i64>,
    rule: Option<RuleForm>,
    rule_errors: FieldErrors,
    issue: IssueForm,
    issue_error: Option<String>,
    outcome: Option<(bool, Issued)>,
    notice: Option<&'static str>,
}

impl Shown {
    fn of(service: Option<i64>) -> Shown {
        Shown {
            service,
            rule: None,
            rule_errors: FieldErrors::none(),
            issue: IssueForm::default(),
            issue_error: None,
            outcome: None,
            notice: None,
        }
    }
}

async fn render(state: &AppState, s: &Staff, shown: Shown) -> Result<Response, WebError> {
    let all = fees::overview(s.ctx(state)).await?;
    let services = all.iter().map(|f| (f.id.get(), f.name.clone())).collect();
    let chosen = all
        .into_iter()
        .enumerate()
        .find(|(i, f)| shown.service.map_or(*i == 0, |id| f.id.get() == id))
        .map(|(_, f)| f);
    let today = s.ctx(state).today();
    let rows = chosen
        .as_ref()
        .map(|f| {
            f.fees
                .iter()
                .map(|p| Row {
                    id: p.id.get(),
                    period: p
                        .fee_of
                        .as_ref()
                        .map(|(_, k)| k.clone())
                        .unwrap_or_default(),
                    debtor: format!("{} ({})", p.debtor_name, p.debtor_fiscal_code),
                    notice: p.notice_number.grouped(),
                    amount: p.amount.format_it(),
                    due: filters::dmy_it(&p.due_date),
                    state: p.state_it(today),
                })
                .collect()
        })
        .unwrap_or_default();
    let rule = shown
        .rule
        .unwrap_or_else(|| RuleForm::of(chosen.as_ref().and_then(|f| f.rule.as_ref())));
    let status = if shown.issue_error.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        shown.rule_errors.status()
    };
    let page = FeesPage {
        frame: s.frame(&FEES),
        services,
        shown: chosen,
        rule,
        rule_errors: shown.rule_errors,
        frequencies: Frequency::ALL
            .iter()
            .map(|f| (f.as_str(), f.label_it()))
            .collect(),
        pro_ratas: ProRata::ALL
            .iter()
            .map(|p| (p.as_str(), p.label_it()))
            .collect(),
        issue: shown.issue,
        issue_error: shown.issue_error,
        outcome: shown.outcome,
        notice: shown.notice,
        rows,
    };
    Ok((status, page).into_response())
}

/// `GET /t/<slug>/backoffice/quote[?servizio=<id>]`
pub(crate) async fn fees_page(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<FeesQuery>,
) -> Result<Response, WebError> {
    s.require(FEES.roles)?;
    let mut shown = Shown::of(q.servizio);
    shown.notice = match q.esito.as_deref() {
        Some("regola") => Some("Regola delle quote salvata."),
        _ => None,
    };
    render(&state, &s, shown).await
}

/// `POST /t/<slug>/backoffice/quote/<service>/regola`
pub(crate) async fn save_rule(
    State(state): State<AppState>,
    s: Staff,
    Path((_, service)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<RuleForm>,
) -> Result<Response, WebError> {
    s.require(FEES.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let result = match f.rule() {
        Ok(rule) => fees::set_rule(s.ctx(&state), ServiceId(service), &rule).await,
        Err(e) => Err(e),
    };
    result
        .map(|()| {
            Redirect::to(&format!(
                "/t/{}/backoffice/quote?servizio={service}&esito=regola",
                s.slug()
            ))
        })
        .or_form(|errors| async {
            let mut shown = Shown::of(Some(service));
            shown.rule = Some(f.clone());
            shown.rule_errors = errors;
            render(&state, &s, shown).await
        })
        .await
}

/// `POST /t/<slug>/backoffice/quote/<service>/emissione`: `azione=anteprima` shows what would
/// be issued (nothing written), `azione=emetti` issues it.
pub(crate) async fn issue(
    State(state): State<AppState>,
    s: Staff,
    Path((_, service)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<IssueForm>,
) -> Result<Response, WebError> {
    s.require(FEES.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let mut shown = Shown::of(Some(service));
    let due = match f.scadenza.trim() {
        "" => Ok(None),
        d => d
            .parse()
            .map(Some)
            .map_err(|_| "Scadenza non valida: usa il calendario o scrivi AAAA-MM-GG.".to_string()),
    };
    let dry_run = f.azione != "emetti";
    let result = match due {
        Ok(due) => fees::issue(
            s.ctx(&state),
            &IssueRequest {
                service: ServiceId(service),
                period: f.periodo.trim().to_string(),
                due,
                dry_run,
            },
        )
        .await
        .map_err(|e| match e {
            AppError::Invalid(m) | AppError::NotFound(m) => Ok(m),
            other => Err(other),
        }),
        Err(m) => Err(Ok(m)),
    };
    match result {
        Ok(issued) => shown.outcome = Some((dry_run, issued)),
        Err(Ok(message)) => shown.issue_error = Some(message),
        Err(Err(e)) => return Err(e.into()),
    }
    shown.issue = f;
    render(&state, &s, shown).await
}

// ---------------------------------------------------------------------------------------------
// One fee: cancel it, move its due date, record a payment made elsewhere.

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/fee.html")]
struct FeePage<'a> {
    frame: Frame<'a>,
    channels: Vec<(&'static str, &'static str)>,
    fee: refettorio_app::pagopa::Position,
    state: &'static str,
    open: bool,
    change: ChangeForm,
    errors: FieldErrors,
    notice: Option<&'static str>,
}
framed!(FeePage);

impl FeePage<'_> {
    fn due(&self) -> String {
        filters::dmy_it(&self.fee.due_date)
    }
}

#[derive(Deserialize, Default, Clone)]
pub(crate) struct ChangeForm {
    #[serde(default)]
    motivo: String,
    #[serde(default)]
    scadenza: String,
    #[serde(default)]
    canale: String,
    #[serde(default)]
    riferimento: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

#[derive(Deserialize, Default)]
pub(crate) struct FeeQuery {
    esito: Option<String>,
}

async fn render_fee(
    state: &AppState,
    s: &Staff,
    id: i64,
    change: ChangeForm,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> Result<Response, WebError> {
    let ctx = s.ctx(state);
    let fee = fees::issued_fee(ctx, refettorio_domain::PositionId(id)).await?;
    let today = ctx.today();
    let status = errors.status();
    let page = FeePage {
        frame: s.frame(&FEES),
        channels: refettorio_app::pagopa::OFFICE_CHANNELS.to_vec(),
        state: fee.state_it(today),
        open: fee.status == refettorio_app::pagopa::PositionStatus::Open,
        fee,
        change,
        errors,
        notice,
    };
    Ok((status, page).into_response())
}

/// `GET /t/<slug>/backoffice/quote/avvisi/<id>`
pub(crate) async fn fee_page(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    Query(q): Query<FeeQuery>,
) -> Result<Response, WebError> {
    s.require(FEES.roles)?;
    let notice = match q.esito.as_deref() {
        Some("annullata") => Some("Quota annullata: l'avviso non si può più pagare."),
        Some("scadenza") => Some("Scadenza cambiata."),
        Some("pagata") => Some("Pagamento registrato: la quota risulta pagata."),
        _ => None,
    };
    render_fee(
        &state,
        &s,
        id,
        ChangeForm::default(),
        FieldErrors::none(),
        notice,
    )
    .await
}

/// `POST /t/<slug>/backoffice/quote/avvisi/<id>/annulla` and `…/scadenza`
pub(crate) async fn change_fee(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id, what)): Path<(String, i64, String)>,
    headers: HeaderMap,
    Form(f): Form<ChangeForm>,
) -> Result<Response, WebError> {
    s.require(FEES.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let (change, esito, field) = match what.as_str() {
        "annulla" => (
            Ok(fees::FeeChange::Cancel(f.motivo.clone())),
            "annullata",
            "motivo",
        ),
        "pagata" => (
            Ok(fees::FeeChange::PaidElsewhere {
                channel: f.canale.trim().to_string(),
                reference: f.riferimento.clone(),
            }),
            "pagata",
            "riferimento",
        ),
        "scadenza" => (
            f.scadenza
                .trim()
                .parse()
                .map(fees::FeeChange::Due)
                .map_err(|_| FieldErrors::one("scadenza", "Scegli la nuova scadenza.")),
            "scadenza",
            "scadenza",
        ),
        _ => return Err(WebError::NotFound("pagina".into())),
    };
    let change = match change {
        Ok(c) => c,
        Err(errors) => return render_fee(&state, &s, id, f, errors, None).await,
    };
    let result = fees::change_fee(s.ctx(&state), refettorio_domain::PositionId(id), &change).await;
    match result {
        Err(AppError::Invalid(m)) => {
            render_fee(&state, &s, id, f, FieldErrors::one(field, &m), None).await
        }
        other => {
            other
                .map(|()| {
                    Redirect::to(&format!(
                        "/t/{}/backoffice/quote/avvisi/{id}?esito={esito}",
                        s.slug()
                    ))
                })
                .or_form(|errors| render_fee(&state, &s, id, f.clone(), errors, None))
                .await
        }
    }
}

/// `GET /t/<slug>/backoffice/quote/<service>/<csv|xlsx>`: the service's fees as a file.
pub(crate) async fn fees_file(
    State(state): State<AppState>,
    s: Staff,
    Path((_, service, format)): Path<(String, i64, String)>,
) -> Result<Response, WebError> {
    s.require(FEES.roles)?;
    let format = refettorio_app::reports::ExportFormat::parse(&format)
        .ok_or_else(|| WebError::NotFound("Formato non disponibile.".into()))?;
    let table = fees::fees_table(s.ctx(&state), ServiceId(service)).await?;
    let bytes = refettorio_app::reports::export(table, format).await?;
    Ok(crate::files::attachment(
        bytes,
        format.content_type(),
        &format!("quote-{service}.{}", format.extension()),
    ))
}
