//! The one context every use case of a municipality takes: where the data is, what time it
//! is, which municipality, and who acts. The web layer's extractors build it from the request
//! (`Staff::ctx`, `Citizen::ctx`, …); the scheduler and the CLI build it for their jobs.

use jiff::Timestamp;
use jiff::civil::Date;
use refettorio_db::Db;
use refettorio_db::registry::tenant::Tenant;
use refettorio_domain::{Actor, Clock};

/// A use case's context for one municipality.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub db: &'a Db,
    pub clock: &'a dyn Clock,
    pub tenant: &'a Tenant,
    pub actor: Actor,
}

impl<'a> Ctx<'a> {
    pub fn new(db: &'a Db, clock: &'a dyn Clock, tenant: &'a Tenant, actor: Actor) -> Self {
        Ctx {
            db,
            clock,
            tenant,
            actor,
        }
    }

    /// The same municipality and moment, acted by someone else (the close inside an office
    /// correction, pagoPA inside a request).
    pub fn as_actor(self, actor: Actor) -> Self {
        Ctx { actor, ..self }
    }

    /// Now, by the context's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Today in the municipality's time zone.
    pub fn today(&self) -> Date {
        refettorio_domain::today(self.clock, &self.tenant.timezone)
    }
}

/// The context of what belongs to the installation rather than to one municipality: the
/// platform administrator's pages, finding the municipality of a request, the scheduler's loop.
#[derive(Clone, Copy)]
pub struct Installation<'a> {
    pub db: &'a Db,
    pub clock: &'a dyn Clock,
}

impl<'a> Installation<'a> {
    pub fn new(db: &'a Db, clock: &'a dyn Clock) -> Self {
        Installation { db, clock }
    }

    /// A municipality's context inside the installation.
    pub fn tenant(self, tenant: &'a Tenant, actor: Actor) -> Ctx<'a> {
        Ctx::new(self.db, self.clock, tenant, actor)
    }
}
