//! The family's pagoPA notices as the personal area lists them (the payments page and each
//! notice's page). Apart from the recharge's handlers so that the area can list them without
//! a circle of imports (the handlers use the area's navigation).

use refettorio_app::pagopa::{self as pay, Position, PositionStatus};

use crate::session::Citizen;
use crate::{AppState, WebError};

/// A position as listed for the family.
pub(crate) struct PositionRow {
    pub id: i64,
    pub description: String,
    pub notice: String,
    pub amount: String,
    pub due: String,
    pub state: &'static str,
    pub paid: bool,
    pub open: bool,
}

pub(crate) fn rows(positions: &[Position], today: jiff::civil::Date) -> Vec<PositionRow> {
    positions
        .iter()
        .map(|p| PositionRow {
            id: p.id.get(),
            description: p.description.clone(),
            notice: p.notice_number.grouped(),
            amount: p.amount.format_it(),
            due: crate::filters::dmy_it(&p.due_date),
            state: p.state_it(today),
            paid: p.status == PositionStatus::Paid,
            open: p.status == PositionStatus::Open && !p.is_expired(today),
        })
        .collect()
}

/// The notices of the guardian's families whose payments the guardian sees, newest first, and
/// their fees summed up.
pub(crate) async fn of_citizen(
    state: &AppState,
    c: &Citizen,
) -> Result<(Vec<PositionRow>, Option<refettorio_app::fees::FeeSummary>), WebError> {
    let ctx = c.ctx(state);
    let positions = pay::positions(ctx, &c.access).await?;
    Ok((
        rows(&positions, ctx.today()),
        refettorio_app::fees::summary(&positions),
    ))
}
