//! Refettorio's domain: pure types and rules (money, fiscal codes, the school calendar,
//! the clock abstraction, ids and vocabularies). No IO here.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod actor;
pub mod audit;
pub mod booking;
pub mod calendar;
pub mod clock;
pub mod codice_fiscale;
pub mod ente;
pub mod fees;
pub mod identity;
pub mod ids;
pub mod ledger;
pub mod messaging;
pub mod money;
pub mod pagopa;
pub mod pricing;
pub mod registry;
pub mod slug;
pub mod tenant;

pub use actor::{Actor, UnknownActor};
pub use audit::{AuditAction, AuditEntry, AuditObject, ObjectKind};
pub use booking::{Attending, BookingError, BookingRules, MealChoice, NoMeal, day_it, deadline};
pub use calendar::{
    CalendarError, Closure, ClosureKind, ClosureScope, DayStatus, SchoolCalendar, Weekdays,
    easter_monday, easter_sunday, national_holiday, national_holidays, school_year_label,
    school_year_of, weekday_name_it,
};
pub use clock::{Clock, FixedClock, SystemClock, local_now, today};
pub use codice_fiscale::{CodiceFiscale, FiscalCodeError};
pub use ente::{EnteFiscalCode, EnteFiscalCodeError};
pub use ids::{
    AccountId, ClassId, ClosureId, DietId, EnrolmentId, FamilyId, GuardianId, PositionId, PupilId,
    SchoolId, SchoolYearId, ServiceId, StaffUserId, TariffBandId, TenantId,
};
pub use ledger::{EntryKind, is_low, meals_left};
pub use money::{Cents, MoneyError};
pub use pagopa::{
    HoldReason, Iban, NoticeNumber, PagoPaMode, PagoPaSettings, PositionStatus, SegregationCode,
};
pub use pricing::{band_for, sibling_rank_reduction};
pub use registry::{
    Billing, DietKind, EnrolmentState, IseeRange, Residency, SchoolKind, ServiceKind, StaffRole,
};
pub use slug::{Slug, SlugError};
pub use tenant::{Tenant, TenantSettings};
