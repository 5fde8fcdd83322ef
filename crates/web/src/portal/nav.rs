//! The personal area's menu.

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

pub(crate) struct Nav<'a> {
    pub slug: &'a str,
    pub current: Section,
    pub payments: bool,
}

impl Nav<'_> {
    pub fn items(&self) -> Vec<(String, &'static str, bool)> {
        let base = format!("/t/{}/area-personale", self.slug);
        let mut v = vec![
            (base.clone(), "Inizio", self.current == Section::Home),
            (
                format!("{base}/figli"),
                "Figli",
                self.current == Section::Children,
            ),
            (
                format!("{base}/prenotazioni"),
                "Prenotazioni",
                self.current == Section::Bookings,
            ),
        ];
        if self.payments {
            v.push((
                format!("{base}/pagamenti"),
                "Pagamenti",
                self.current == Section::Payments,
            ));
        }
        v.push((
            format!("{base}/comunicazioni"),
            "Comunicazioni",
            self.current == Section::Messages,
        ));
        v.push((
            format!("{base}/profilo"),
            "Profilo",
            self.current == Section::Profile,
        ));
        v
    }
}

pub(crate) fn nav(c: &Citizen, current: Section) -> Nav<'_> {
    Nav {
        slug: c.tenant.slug.as_str(),
        current,
        payments: c.sees_any_payments(),
    }
}
