//! The kitchen's daily numbers (centro cottura): how many meals of each kind
//! to prepare for every class of every school on one day, as CSV and PDF.
//!
//! Counts only: no pupil names are part of the view model.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::DocumentError;
use crate::pdf;
use crate::table::{self, Cell, Table};

const TEMPLATE: &str = include_str!("../templates/kitchen.typ");

/// The view model of the kitchen report for one tenant and day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KitchenReport {
    pub tenant_name: String,
    pub date: jiff::civil::Date,
    /// e.g. "lunedì 23 novembre 2026".
    pub date_label: String,
    /// `false`: a forecast before the cut-off; `true`: the day is closed.
    pub frozen: bool,
    /// e.g. "Generato il 23/11/2026 alle 09:31".
    pub generated_at_label: String,
    pub schools: Vec<KitchenSchool>,
    pub diet_codes: Vec<DietLegend>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KitchenSchool {
    pub name: String,
    pub classes: Vec<KitchenClass>,
    pub total: KitchenCounts,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KitchenClass {
    pub name: String,
    pub counts: KitchenCounts,
}

/// Meals of one kind or another; `total` is every meal (standard + bland + diets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KitchenCounts {
    pub standard: u32,
    /// "In bianco".
    pub bland: u32,
    /// Diet code -> count.
    pub diets: BTreeMap<String, u32>,
    pub total: u32,
}

/// One entry of the legend: a diet code and its description.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DietLegend {
    pub code: String,
    pub name: String,
}

impl KitchenCounts {
    /// Adds `other` into `self` (saturating: counts never wrap).
    pub fn add(&mut self, other: &KitchenCounts) {
        self.standard = self.standard.saturating_add(other.standard);
        self.bland = self.bland.saturating_add(other.bland);
        for (code, count) in &other.diets {
            let entry = self.diets.entry(code.clone()).or_insert(0);
            *entry = entry.saturating_add(*count);
        }
        self.total = self.total.saturating_add(other.total);
    }

    /// Adds `n` meals of one kind: a diet meal counts under its code (also when bland: the
    /// kitchen prepares the diet), otherwise as bland or standard.
    pub fn count(&mut self, bland: bool, diet: Option<&str>, n: u32) {
        match diet {
            Some(code) => {
                let entry = self.diets.entry(code.to_string()).or_insert(0);
                *entry = entry.saturating_add(n);
            }
            None if bland => self.bland = self.bland.saturating_add(n),
            None => self.standard = self.standard.saturating_add(n),
        }
        self.total = self.total.saturating_add(n);
    }

    /// "24 pasti: 20 standard, 2 in bianco, CEL 1, NOMAI 1"
    pub fn describe(&self) -> String {
        let mut parts = vec![
            format!("{} standard", self.standard),
            format!("{} in bianco", self.bland),
        ];
        parts.extend(self.diets.iter().map(|(k, v)| format!("{k} {v}")));
        format!("{} pasti: {}", self.total, parts.join(", "))
    }

    /// The count for `code`, 0 when absent.
    pub fn diet(&self, code: &str) -> u32 {
        self.diets.get(code).copied().unwrap_or(0)
    }

    /// Counts in column order: standard, bland, one per `codes`, total.
    fn cells(&self, codes: &[String]) -> Vec<u32> {
        let mut cells = Vec::with_capacity(codes.len() + 3);
        cells.push(self.standard);
        cells.push(self.bland);
        cells.extend(codes.iter().map(|code| self.diet(code)));
        cells.push(self.total);
        cells
    }
}

impl KitchenSchool {
    /// A school whose total is the sum of its classes.
    pub fn from_classes(name: impl Into<String>, classes: Vec<KitchenClass>) -> Self {
        let mut total = KitchenCounts::default();
        for class in &classes {
            total.add(&class.counts);
        }
        Self {
            name: name.into(),
            classes,
            total,
        }
    }
}

impl KitchenReport {
    /// The sum of every school's total.
    pub fn grand_total(&self) -> KitchenCounts {
        let mut total = KitchenCounts::default();
        for school in &self.schools {
            total.add(&school.total);
        }
        total
    }

    /// The diet columns: every diet code counted anywhere in the report, sorted.
    pub fn diet_columns(&self) -> Vec<String> {
        let mut codes = BTreeSet::new();
        for school in &self.schools {
            codes.extend(school.total.diets.keys());
            for class in &school.classes {
                codes.extend(class.counts.diets.keys());
            }
        }
        codes.into_iter().cloned().collect()
    }
}

impl KitchenReport {
    /// The report as a [`Table`]: one row per class, a `Totale <scuola>` row after each
    /// school, and a `Totale generale` row at the end.
    pub fn table(&self) -> Table {
        let codes = self.diet_columns();
        let mut columns = vec!["Scuola", "Classe", "Standard", "In bianco"];
        columns.extend(codes.iter().map(String::as_str));
        columns.push("Totale");
        let mut table = Table::new(format!("Pasti {}", self.date), &columns);
        let row = |first: String, second: String, counts: &KitchenCounts| {
            let mut cells = vec![Cell::Text(first), Cell::Text(second)];
            cells.extend(counts.cells(&codes).into_iter().map(Cell::from));
            cells
        };
        for school in &self.schools {
            for class in &school.classes {
                table
                    .rows
                    .push(row(school.name.clone(), class.name.clone(), &class.counts));
            }
            table.rows.push(row(
                format!("Totale {}", school.name),
                String::new(),
                &school.total,
            ));
        }
        table.totals.push(row(
            "Totale generale".to_owned(),
            String::new(),
            &self.grand_total(),
        ));
        table
    }
}

/// The kitchen report as an Italian-Excel CSV ([`table::csv`]).
pub fn kitchen_csv(r: &KitchenReport) -> Vec<u8> {
    table::csv(&r.table())
}

/// The kitchen report as an XLSX workbook ([`table::xlsx`]).
pub fn kitchen_xlsx(r: &KitchenReport) -> Result<Vec<u8>, DocumentError> {
    table::xlsx(&r.table())
}

/// What the template reads from `/data.json`: the report flattened into
/// table rows in column order, so the template only lays out.
#[derive(Serialize)]
struct PdfView<'a> {
    tenant_name: &'a str,
    /// The day served, also used as the PDF's document date (PDF/A needs one).
    date: PdfDate,
    date_label: &'a str,
    frozen: bool,
    generated_at_label: &'a str,
    diet_columns: &'a [String],
    schools: Vec<PdfSchool<'a>>,
    grand_total: Vec<u32>,
    legend: &'a [DietLegend],
}

#[derive(Serialize)]
struct PdfDate {
    year: i16,
    month: i8,
    day: i8,
}

#[derive(Serialize)]
struct PdfSchool<'a> {
    name: &'a str,
    rows: Vec<PdfRow<'a>>,
    total: Vec<u32>,
}

#[derive(Serialize)]
struct PdfRow<'a> {
    name: &'a str,
    cells: Vec<u32>,
}

/// The kitchen report as an A4, tagged PDF/A-2b.
pub fn kitchen_pdf(r: &KitchenReport) -> Result<Vec<u8>, DocumentError> {
    let codes = r.diet_columns();
    let view = PdfView {
        tenant_name: &r.tenant_name,
        date: PdfDate {
            year: r.date.year(),
            month: r.date.month(),
            day: r.date.day(),
        },
        date_label: &r.date_label,
        frozen: r.frozen,
        generated_at_label: &r.generated_at_label,
        diet_columns: &codes,
        schools: r
            .schools
            .iter()
            .map(|school| PdfSchool {
                name: &school.name,
                rows: school
                    .classes
                    .iter()
                    .map(|class| PdfRow {
                        name: &class.name,
                        cells: class.counts.cells(&codes),
                    })
                    .collect(),
                total: school.total.cells(&codes),
            })
            .collect(),
        grand_total: r.grand_total().cells(&codes),
        legend: &r.diet_codes,
    };
    pdf::render_with_data(TEMPLATE, &view)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(standard: u32, bland: u32, diets: &[(&str, u32)]) -> KitchenCounts {
        let diets: BTreeMap<String, u32> =
            diets.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect();
        let total = standard + bland + diets.values().sum::<u32>();
        KitchenCounts {
            standard,
            bland,
            diets,
            total,
        }
    }

    #[test]
    fn add_sums_every_field() {
        let mut a = counts(3, 1, &[("CEL", 1)]);
        a.add(&counts(2, 0, &[("CEL", 2), ("LAT", 1)]));
        assert_eq!(a, counts(5, 1, &[("CEL", 3), ("LAT", 1)]));
    }

    #[test]
    fn school_total_is_the_sum_of_its_classes() {
        let school = KitchenSchool::from_classes(
            "Rodari",
            vec![
                KitchenClass {
                    name: "1A".into(),
                    counts: counts(10, 1, &[]),
                },
                KitchenClass {
                    name: "1B".into(),
                    counts: counts(8, 0, &[("VEG", 2)]),
                },
            ],
        );
        assert_eq!(school.total, counts(18, 1, &[("VEG", 2)]));
    }
}
