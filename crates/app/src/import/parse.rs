//! Step 2: the columns of a kind matched by header, each row's fields and duplicates within
//! the file.

use std::collections::HashMap;

use jiff::civil::Date;
use refettorio_domain::Cents;
use refettorio_domain::CodiceFiscale;
use refettorio_domain::EnrolmentState;
use refettorio_domain::ServiceKind;

use super::kind::{
    B_AMOUNT, B_DAY, B_NOTE, B_PAYER, B_SERVICE, B_YEAR, Column, E_BAND, E_CARD, E_CLASS, E_DIET,
    E_PRICE, E_PUPIL, E_SCHOOL, E_SERVICE, E_START, E_STATE, E_YEAR, G_ADDRESS, G_CF, G_EMAIL,
    G_FIRST, G_ISEE, G_LAST, G_PAYER, G_PHONE, G_RESIDENT, G_SEES, ImportKind, P_BIRTH, P_CF,
    P_FIRST, P_LAST, P_PAYER,
};
use super::read::{RowError, Table, row_error};

/// Lower case, no accents, single spaces: how headers and names are compared.
pub fn fold(s: &str) -> String {
    let plain: String = s
        .chars()
        .map(|c| match c {
            'à' | 'á' | 'À' | 'Á' => 'a',
            'è' | 'é' | 'È' | 'É' => 'e',
            'ì' | 'í' | 'Ì' | 'Í' => 'i',
            'ò' | 'ó' | 'Ò' | 'Ó' => 'o',
            'ù' | 'ú' | 'Ù' | 'Ú' => 'u',
            '’' => '\'',
            _ => c,
        })
        .collect();
    plain
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A date as written by the office or an export: `gg/mm/aaaa` (also with `-` or `.`, and
/// one-digit day or month) or `aaaa-mm-gg` (a time after it is ignored).
pub fn parse_date(s: &str) -> Option<Date> {
    let s = s.trim();
    let iso = s
        .get(..10)
        .filter(|p| p.as_bytes().get(4) == Some(&b'-') && p.as_bytes().get(7) == Some(&b'-'));
    let (y, m, d) = if let Some(p) = iso {
        let rest = &s[10..];
        if !(rest.is_empty() || rest.starts_with('T') || rest.starts_with(' ')) {
            return None;
        }
        (p.get(0..4)?, p.get(5..7)?, p.get(8..10)?)
    } else {
        let parts: Vec<&str> = s.split(['/', '-', '.']).collect();
        let [d, m, y] = parts[..] else {
            return None;
        };
        if y.len() != 4 || d.is_empty() || d.len() > 2 || m.is_empty() || m.len() > 2 {
            return None;
        }
        (y, m, d)
    };
    let num = |t: &str| -> Option<i16> {
        t.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    let (y, m, d) = (num(y)?, num(m)?, num(d)?);
    Date::new(y, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()
}

/// sì / no (also si, s, x, 1, vero, true, yes; n, 0, falso, false); `None` if neither.
pub fn parse_yes_no(s: &str) -> Option<bool> {
    match fold(s).as_str() {
        "si" | "sì" | "s" | "x" | "1" | "vero" | "true" | "yes" | "y" => Some(true),
        "no" | "n" | "0" | "falso" | "false" => Some(false),
        _ => None,
    }
}

/// Refezione / Trasporto, as exports name them.
pub fn parse_service(s: &str) -> Option<ServiceKind> {
    match fold(s).as_str() {
        "refezione"
        | "refezione scolastica"
        | "mensa"
        | "mensa scolastica"
        | "ristorazione"
        | "ristorazione scolastica" => Some(ServiceKind::Refezione),
        "trasporto" | "trasporto scolastico" | "scuolabus" => Some(ServiceKind::Trasporto),
        _ => None,
    }
}

fn parse_state(s: &str) -> Option<EnrolmentState> {
    match fold(s).as_str() {
        "" | "attivo" | "attiva" | "iscritto" | "iscritta" => Some(EnrolmentState::Attivo),
        "disattivo" | "disattiva" | "non attivo" | "non attiva" | "ritirato" | "ritirata" => {
            Some(EnrolmentState::Disattivo)
        }
        _ => None,
    }
}

/// A school year as `2026/2027` (also `2026-2027`, `2026/27`).
pub fn parse_year(s: &str) -> Option<String> {
    let (a, b) = s.trim().split_once(['/', '-'])?;
    let a: i32 = a.trim().parse().ok().filter(|_| a.trim().len() == 4)?;
    let b = b.trim();
    let next = match b.len() {
        4 => b.parse::<i32>().ok()?,
        2 => a / 100 * 100 + b.parse::<i32>().ok()? + if a % 100 == 99 { 100 } else { 0 },
        _ => return None,
    };
    (next == a + 1).then(|| format!("{a}/{next}"))
}

/// A guardian's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardianRow {
    pub row: usize,
    pub cf: CodiceFiscale,
    pub last_name: String,
    pub first_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: String,
    pub resident: bool,
    pub isee: Option<Cents>,
    /// `None`: this guardian is a payer (a family of their own); else the payer whose
    /// delegate they become.
    pub payer: Option<CodiceFiscale>,
    pub sees_payments: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PupilRow {
    pub row: usize,
    pub cf: CodiceFiscale,
    pub last_name: String,
    pub first_name: String,
    pub birth_date: Date,
    pub payer: CodiceFiscale,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentRow {
    pub row: usize,
    pub pupil: CodiceFiscale,
    pub service: ServiceKind,
    pub year: String,
    pub school: String,
    pub class: String,
    pub band: String,
    pub meal_price: Option<Cents>,
    pub diet: Option<String>,
    pub state: EnrolmentState,
    pub start_date: Date,
    pub card: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceRow {
    pub row: usize,
    pub payer: CodiceFiscale,
    pub service: ServiceKind,
    pub year: String,
    pub amount: Cents,
    pub day: Option<Date>,
    pub note: String,
}

/// The rows of a file, read and checked on their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rows {
    Guardians(Vec<GuardianRow>),
    Pupils(Vec<PupilRow>),
    Enrolments(Vec<EnrolmentRow>),
    Balances(Vec<BalanceRow>),
}

impl Rows {
    pub fn len(&self) -> usize {
        match self {
            Rows::Guardians(r) => r.len(),
            Rows::Pupils(r) => r.len(),
            Rows::Enrolments(r) => r.len(),
            Rows::Balances(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One data row's cells by column of the layout, and the errors found so far.
struct Cells<'a> {
    row: usize,
    cells: &'a [String],
    map: &'a [Option<usize>],
    columns: &'static [Column],
    errors: Vec<RowError>,
}

impl Cells<'_> {
    fn raw(&self, i: usize) -> &str {
        self.map
            .get(i)
            .copied()
            .flatten()
            .and_then(|j| self.cells.get(j))
            .map_or("", |s| s.trim())
    }

    fn fail(&mut self, message: String) {
        self.errors.push(row_error(self.row, message));
    }

    fn header(&self, i: usize) -> &'static str {
        self.columns.get(i).map_or("", |c| c.header)
    }

    /// A required text: `None` (with the error) when missing.
    fn required(&mut self, i: usize) -> Option<String> {
        let v = self.raw(i).to_string();
        if v.is_empty() {
            let h = self.header(i);
            self.fail(format!("Manca il campo obbligatorio «{h}»."));
            return None;
        }
        if v.chars().count() > 200 {
            let h = self.header(i);
            self.fail(format!("«{h}» è troppo lungo (al massimo 200 caratteri)."));
            return None;
        }
        Some(v)
    }

    fn optional(&self, i: usize) -> Option<String> {
        Some(self.raw(i).to_string()).filter(|v| !v.is_empty())
    }

    fn fiscal_code(&mut self, i: usize) -> Option<CodiceFiscale> {
        let v = self.required(i)?;
        match CodiceFiscale::parse(&v) {
            Ok(cf) => Some(cf),
            Err(e) => {
                let h = self.header(i);
                self.fail(format!("«{h}» non valido ({v}): {e}."));
                None
            }
        }
    }

    fn optional_fiscal_code(&mut self, i: usize) -> Option<Option<CodiceFiscale>> {
        if self.raw(i).is_empty() {
            return Some(None);
        }
        self.fiscal_code(i).map(Some)
    }

    fn date(&mut self, i: usize, required: bool) -> Option<Option<Date>> {
        let v = self.raw(i).to_string();
        if v.is_empty() {
            if required {
                let h = self.header(i);
                self.fail(format!("Manca il campo obbligatorio «{h}»."));
                return None;
            }
            return Some(None);
        }
        match parse_date(&v) {
            Some(d) => Some(Some(d)),
            None => {
                let h = self.header(i);
                self.fail(format!(
                    "«{h}» non è una data valida ({v}): scrivila come gg/mm/aaaa."
                ));
                None
            }
        }
    }

    fn amount(&mut self, i: usize, required: bool) -> Option<Option<Cents>> {
        let v = self.raw(i).to_string();
        if v.is_empty() {
            if required {
                let h = self.header(i);
                self.fail(format!("Manca il campo obbligatorio «{h}»."));
                return None;
            }
            return Some(None);
        }
        match Cents::parse_it(&v) {
            Ok(c) => Some(Some(c)),
            Err(_) => {
                let h = self.header(i);
                self.fail(format!(
                    "«{h}» non è un importo valido ({v}): scrivilo in euro con al massimo due decimali, ad esempio 12,50."
                ));
                None
            }
        }
    }

    fn yes_no(&mut self, i: usize, default: bool) -> Option<bool> {
        let v = self.raw(i).to_string();
        if v.is_empty() {
            return Some(default);
        }
        parse_yes_no(&v).or_else(|| {
            let h = self.header(i);
            self.fail(format!("«{h}» deve essere sì o no (non «{v}»)."));
            None
        })
    }

    fn service(&mut self, i: usize) -> Option<ServiceKind> {
        let v = self.required(i)?;
        parse_service(&v).or_else(|| {
            self.fail(format!(
                "Servizio sconosciuto «{v}»: scrivi Refezione oppure Trasporto."
            ));
            None
        })
    }

    fn year(&mut self, i: usize) -> Option<String> {
        let v = self.required(i)?;
        parse_year(&v).or_else(|| {
            self.fail(format!(
                "Anno scolastico non valido «{v}»: scrivilo come 2026/2027."
            ));
            None
        })
    }
}

/// Finds each column of the layout among the headers: its position in the file, or `None`.
/// Missing required columns, and columns named twice, are an error for the whole file.
pub fn map_headers(kind: ImportKind, headers: &[String]) -> Result<Vec<Option<usize>>, String> {
    let folded: Vec<String> = headers.iter().map(|h| fold(h)).collect();
    let mut map = Vec::new();
    let mut missing = Vec::new();
    for c in kind.columns() {
        let want = fold(c.header);
        let found: Vec<usize> = folded
            .iter()
            .enumerate()
            .filter(|(_, h)| **h == want)
            .map(|(i, _)| i)
            .collect();
        if found.len() > 1 {
            return Err(format!(
                "La colonna «{}» compare più volte nella riga delle intestazioni.",
                c.header
            ));
        }
        if found.is_empty() && c.required {
            missing.push(format!("«{}»", c.header));
        }
        map.push(found.first().copied());
    }
    if missing.is_empty() {
        Ok(map)
    } else {
        Err(format!(
            "Mancano le colonne {} (il file è del tipo «{}»? Scarica il modello per vedere le intestazioni).",
            missing.join(", "),
            kind.label_it()
        ))
    }
}

/// Reports a second row with the same key as an earlier one.
fn check_duplicate<K: std::hash::Hash + Eq>(
    seen: &mut HashMap<K, usize>,
    key: K,
    row: usize,
    what: &str,
    errors: &mut Vec<RowError>,
) -> bool {
    match seen.get(&key) {
        Some(first) => {
            errors.push(row_error(
                row,
                format!("Duplicato nel file: {what} della riga {first}."),
            ));
            false
        }
        None => {
            seen.insert(key, row);
            true
        }
    }
}

/// Reads every data row of a table of the given kind: the rows that are valid on their own,
/// and what is wrong with the others (a row may have several errors). A file whose headers
/// do not fit the kind is an error for the whole file.
pub fn parse(kind: ImportKind, table: &Table) -> Result<(Rows, Vec<RowError>), String> {
    let map = map_headers(kind, &table.headers)?;
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut seen_card: HashMap<String, usize> = HashMap::new();
    let mut rows = match kind {
        ImportKind::Guardians => Rows::Guardians(Vec::new()),
        ImportKind::Pupils => Rows::Pupils(Vec::new()),
        ImportKind::Enrolments => Rows::Enrolments(Vec::new()),
        ImportKind::Balances => Rows::Balances(Vec::new()),
    };
    for (n, cells) in &table.rows {
        let mut c = Cells {
            row: *n,
            cells,
            map: &map,
            columns: kind.columns(),
            errors: Vec::new(),
        };
        match &mut rows {
            Rows::Guardians(out) => {
                let cf = c.fiscal_code(G_CF);
                let last = c.required(G_LAST);
                let first = c.required(G_FIRST);
                let email = c.optional(G_EMAIL);
                if let Some(e) = &email
                    && (!e.contains('@') || e.contains(' '))
                {
                    c.fail(format!("«Email» non valida ({e})."));
                }
                let resident = c.yes_no(G_RESIDENT, true);
                let isee = c.amount(G_ISEE, false);
                if let Some(Some(i)) = isee
                    && i.is_negative()
                {
                    c.fail("L'ISEE non può essere negativo.".into());
                }
                let payer = c.optional_fiscal_code(G_PAYER);
                let sees = c.yes_no(G_SEES, false);
                if let (Some(cf), Some(Some(p))) = (&cf, &payer)
                    && cf == p
                {
                    c.fail("Il codice fiscale intestatario è quello della persona stessa: lascialo vuoto per l'intestatario.".into());
                }
                if let (Some(Some(_)), Some(Some(_))) = (&payer, &isee) {
                    c.fail("L'ISEE va indicato solo sulla riga dell'intestatario.".into());
                }
                if let (
                    Some(cf),
                    Some(last),
                    Some(first),
                    Some(resident),
                    Some(isee),
                    Some(payer),
                    Some(sees),
                ) = (cf, last, first, resident, isee, payer, sees)
                    && c.errors.is_empty()
                    && check_duplicate(
                        &mut seen,
                        cf.as_str().to_string(),
                        *n,
                        "stesso codice fiscale",
                        &mut c.errors,
                    )
                {
                    out.push(GuardianRow {
                        row: *n,
                        cf,
                        last_name: last,
                        first_name: first,
                        email,
                        phone: c.optional(G_PHONE),
                        address: c.optional(G_ADDRESS).unwrap_or_default(),
                        resident,
                        isee,
                        payer,
                        sees_payments: sees,
                    });
                }
            }
            Rows::Pupils(out) => {
                let cf = c.fiscal_code(P_CF);
                let last = c.required(P_LAST);
                let first = c.required(P_FIRST);
                let birth = c.date(P_BIRTH, true);
                let payer = c.fiscal_code(P_PAYER);
                if let (Some(cf), Some(last), Some(first), Some(Some(birth)), Some(payer)) =
                    (cf, last, first, birth, payer)
                    && c.errors.is_empty()
                    && check_duplicate(
                        &mut seen,
                        cf.as_str().to_string(),
                        *n,
                        "stesso codice fiscale",
                        &mut c.errors,
                    )
                {
                    out.push(PupilRow {
                        row: *n,
                        cf,
                        last_name: last,
                        first_name: first,
                        birth_date: birth,
                        payer,
                    });
                }
            }
            Rows::Enrolments(out) => {
                let pupil = c.fiscal_code(E_PUPIL);
                let service = c.service(E_SERVICE);
                let year = c.year(E_YEAR);
                let school = c.required(E_SCHOOL);
                let class = c.required(E_CLASS);
                let band = c.required(E_BAND);
                let price = c.amount(E_PRICE, false);
                if let Some(Some(p)) = price
                    && p.is_negative()
                {
                    c.fail("Il prezzo del pasto non può essere negativo.".into());
                }
                let diet = c.optional(E_DIET);
                let state_raw = c.raw(E_STATE).to_string();
                let state = parse_state(&state_raw);
                if state.is_none() {
                    c.fail(format!(
                        "«Stato» deve essere attivo o disattivo (non «{state_raw}»)."
                    ));
                }
                let start = c.date(E_START, true);
                let card = c.required(E_CARD);
                if let (
                    Some(pupil),
                    Some(service),
                    Some(year),
                    Some(school),
                    Some(class),
                    Some(band),
                    Some(price),
                    Some(state),
                    Some(Some(start)),
                    Some(card),
                ) = (
                    pupil, service, year, school, class, band, price, state, start, card,
                ) && c.errors.is_empty()
                    && check_duplicate(
                        &mut seen,
                        format!("{}|{}|{year}", pupil.as_str(), service.as_str()),
                        *n,
                        "stesso alunno, servizio e anno",
                        &mut c.errors,
                    )
                    && check_duplicate(
                        &mut seen_card,
                        card.to_uppercase(),
                        *n,
                        "stessa tessera",
                        &mut c.errors,
                    )
                {
                    out.push(EnrolmentRow {
                        row: *n,
                        pupil,
                        service,
                        year,
                        school,
                        class,
                        band,
                        meal_price: price,
                        diet,
                        state,
                        start_date: start,
                        card,
                    });
                }
            }
            Rows::Balances(out) => {
                let payer = c.fiscal_code(B_PAYER);
                let service = c.service(B_SERVICE);
                let year = c.year(B_YEAR);
                let amount = c.amount(B_AMOUNT, true);
                let day = c.date(B_DAY, false);
                let note = c.optional(B_NOTE).unwrap_or_default();
                if note.chars().count() > 500 {
                    c.fail("«Nota» è troppo lunga (al massimo 500 caratteri).".into());
                }
                if let (Some(payer), Some(service), Some(year), Some(Some(amount)), Some(day)) =
                    (payer, service, year, amount, day)
                    && c.errors.is_empty()
                    && check_duplicate(
                        &mut seen,
                        format!("{}|{}|{year}", payer.as_str(), service.as_str()),
                        *n,
                        "stesso intestatario, servizio e anno",
                        &mut c.errors,
                    )
                {
                    out.push(BalanceRow {
                        row: *n,
                        payer,
                        service,
                        year,
                        amount,
                        day,
                        note,
                    });
                }
            }
        }
        errors.append(&mut c.errors);
    }
    Ok((rows, errors))
}
