//! The back office's search of families, and (transitional) the names its use cases had before
//! they moved to their concepts' modules: [`crate::ledger`], [`crate::audit`], [`crate::closure`],
//! [`crate::kitchen`], [`crate::attendance`]. The re-exports keep other branches' callers
//! compiling until they are merged; remove them once nothing names `backoffice::` for these.

use crate::Ctx;

use crate::AppError;
pub use crate::attendance::{
    ClassList, CorrectionInput, ListPupil, TodayClass, class_list, correct_today,
};
pub use crate::audit::{AUDIT_PAGE, action_label, audit_log};
pub use crate::closure::{
    CLOSURE_KINDS, ClosureDone, ClosureInput, ClosurePreview, ClosureYear, check_closure,
    closure_preview, closure_year, confirm_closure,
};
pub use crate::kitchen::{KitchenFormat, kitchen_file};
pub use crate::ledger::{
    ChangeKind, MoneyChange, OfficeAccount, Recorded, TransferInput, account, find_account,
    record_change, record_transfer, valid_form_token,
};
pub use crate::people::{FamilyHit, SEARCH_LIMIT};

/// Families with a pupil or guardian whose name starts with `query`, or whose fiscal code or
/// card code is `query`, at most [`SEARCH_LIMIT`], by payer name: one indexed query
/// ([`crate::people::find_families`]).
pub async fn search_families(ctx: Ctx<'_>, query: &str) -> Result<Vec<FamilyHit>, AppError> {
    crate::people::find_families(ctx, query).await
}
