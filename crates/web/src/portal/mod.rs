//! The personal area of a family (the portal): home, children, meal calendar, payments,
//! communications and profile. Every handler starts from [`Citizen`]: the ids in paths,
//! queries and forms are looked up among the guardian's own families only, so another
//! family's id is a 404.
//!
//! [`Citizen`]: crate::session::Citizen

mod bookings;
mod home;
pub(crate) mod nav;
mod payments;
mod profile;

pub(crate) use bookings::{bookings, change, change_all};
pub(crate) use home::{attendance, children, home};
pub(crate) use payments::{message_file, messages, payments};
pub(crate) use profile::{change_password, profile, save_contacts};
