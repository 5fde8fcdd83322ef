//! The personal area's menu.

use crate::pages::{Frame, Layout, Menu};
use crate::session::Citizen;

/// Which section of the area a page belongs to (for the menu).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Home,
    Children,
    Bookings,
    Payments,
    Messages,
    Profile,
}

impl Citizen {
    /// The frame of a page of the personal area in section `current`: the header shows who is
    /// logged in and the logout button; the menu shows Pagamenti only to who sees some money.
    pub fn frame<'a>(&'a self, current: Section, title: &'a str, name: &'a str) -> Frame<'a> {
        Frame {
            layout: Layout::citizen(title, self, name),
            nav: menu(self.tenant.slug.as_str(), current, self.sees_any_payments()),
            slug: self.tenant.slug.as_str(),
            csrf: &self.session.csrf_token,
        }
    }
}

fn menu(slug: &str, current: Section, payments: bool) -> Menu {
    let base = format!("/t/{slug}/area-personale");
    let mut v = vec![
        (base.clone(), "Inizio", current == Section::Home),
        (
            format!("{base}/figli"),
            "Figli",
            current == Section::Children,
        ),
        (
            format!("{base}/prenotazioni"),
            "Prenotazioni",
            current == Section::Bookings,
        ),
    ];
    if payments {
        v.push((
            format!("{base}/pagamenti"),
            "Pagamenti",
            current == Section::Payments,
        ));
    }
    v.push((
        format!("{base}/comunicazioni"),
        "Comunicazioni",
        current == Section::Messages,
    ));
    v.push((
        format!("{base}/profilo"),
        "Profilo",
        current == Section::Profile,
    ));
    v
}
