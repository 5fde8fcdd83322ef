//! Typed database ids, so that a pupil id can never be passed where a school id is expected.

use serde::{Deserialize, Serialize};

macro_rules! define_ids {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {
        $(
            $(#[$meta])*
            #[derive(
                Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            )]
            #[serde(transparent)]
            pub struct $name(pub i64);

            impl $name {
                pub const fn get(self) -> i64 {
                    self.0
                }
            }

            impl std::fmt::Display for $name {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    std::fmt::Display::fmt(&self.0, f)
                }
            }

            impl From<$name> for i64 {
                fn from(id: $name) -> i64 {
                    id.0
                }
            }
        )*
    };
}

define_ids!(
    /// A municipality (Ente) using the platform.
    TenantId,
    SchoolYearId,
    SchoolId,
    ClassId,
    PupilId,
    GuardianId,
    FamilyId,
    ServiceId,
    TariffBandId,
    EnrolmentId,
    DietId,
    StaffUserId,
    ClosureId,
    AccountId,
    /// A pagoPA payment position (a recharge or a fee to pay).
    PositionId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_display_and_serde() -> Result<(), serde_json::Error> {
        let id = PupilId(42);
        assert_eq!(id.get(), 42);
        assert_eq!(id.to_string(), "42");
        assert_eq!(i64::from(id), 42);
        assert_eq!(serde_json::to_string(&id)?, "42");
        assert_eq!(serde_json::from_str::<SchoolId>("7")?, SchoolId(7));
        assert!(TenantId(1) < TenantId(2));
        Ok(())
    }
}
