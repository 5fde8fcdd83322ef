//! The demo: fixed content.

use super::*;

pub(super) const MALE: [&str; 34] = [
    "Alessandro",
    "Andrea",
    "Antonio",
    "Christian",
    "Daniele",
    "Davide",
    "Diego",
    "Edoardo",
    "Elia",
    "Emanuele",
    "Enrico",
    "Federico",
    "Filippo",
    "Francesco",
    "Gabriele",
    "Giacomo",
    "Giovanni",
    "Giuseppe",
    "Leonardo",
    "Lorenzo",
    "Luca",
    "Marco",
    "Matteo",
    "Mattia",
    "Michele",
    "Nicolò",
    "Paolo",
    "Pietro",
    "Riccardo",
    "Roberto",
    "Samuele",
    "Simone",
    "Stefano",
    "Tommaso",
];

pub(super) const FEMALE: [&str; 32] = [
    "Alessia",
    "Alice",
    "Anna",
    "Arianna",
    "Aurora",
    "Beatrice",
    "Camilla",
    "Chiara",
    "Elena",
    "Elisa",
    "Emma",
    "Federica",
    "Francesca",
    "Gaia",
    "Giada",
    "Ginevra",
    "Giorgia",
    "Giulia",
    "Greta",
    "Ilaria",
    "Laura",
    "Lucia",
    "Martina",
    "Matilde",
    "Noemi",
    "Rebecca",
    "Sara",
    "Silvia",
    "Sofia",
    "Valentina",
    "Vittoria",
    "Viola",
];

pub(super) const SURNAMES: [&str; 80] = [
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "De Luca",
    "Mancini",
    "Costa",
    "Giordano",
    "Rizzo",
    "Lombardi",
    "Moretti",
    "Barbieri",
    "Fontana",
    "Santoro",
    "Mariani",
    "Rinaldi",
    "Caruso",
    "Ferrara",
    "Galli",
    "Martini",
    "Leone",
    "Longo",
    "Gentile",
    "Martinelli",
    "Vitale",
    "Lombardo",
    "Serra",
    "Coppola",
    "De Santis",
    "D'Angelo",
    "Marchetti",
    "Parisi",
    "Villa",
    "Conte",
    "Ferraro",
    "Ferri",
    "Fabbri",
    "Bianco",
    "Marini",
    "Grasso",
    "Valentini",
    "Messina",
    "Sala",
    "De Angelis",
    "Gatti",
    "Pellegrini",
    "Palumbo",
    "Sanna",
    "Farina",
    "Rizzi",
    "Monti",
    "Cattaneo",
    "Morelli",
    "Amato",
    "Silvestri",
    "Mazza",
    "Testa",
    "Grassi",
    "Pellegrino",
    "Carbone",
    "Giuliani",
    "Benedetti",
    "Barone",
    "Rossetti",
    "Caputo",
    "Montanari",
    "Guerra",
    "Palmieri",
    "Bernardi",
    "Martino",
    "Fiore",
];

/// Birth places (Belfiore codes) of parents, weighted; a few born abroad.
pub(super) const PARENT_PLACES: [(&str, u32); 11] = [
    ("H501", 30), // Roma
    ("F205", 14), // Milano
    ("L219", 10), // Torino
    ("F839", 14), // Napoli
    ("A944", 8),  // Bologna
    ("D612", 8),  // Firenze
    ("G273", 8),  // Palermo
    ("Z129", 3),  // Romania
    ("Z100", 2),  // Albania
    ("Z330", 2),  // Marocco
    ("Z210", 1),  // Cina
];

/// Birth places of the children: the hospitals near Esempio, weighted.
pub(super) const CHILD_PLACES: [(&str, u32); 7] = [
    ("H501", 50),
    ("F205", 8),
    ("L219", 6),
    ("F839", 10),
    ("A944", 8),
    ("D612", 10),
    ("G273", 8),
];

pub(super) const STREETS: [&str; 16] = [
    "Via Giuseppe Garibaldi",
    "Via Roma",
    "Via Giuseppe Mazzini",
    "Via Camillo Cavour",
    "Corso Vittorio Emanuele II",
    "Via XX Settembre",
    "Via dei Mille",
    "Via Alessandro Manzoni",
    "Via Giacomo Leopardi",
    "Via delle Rose",
    "Via dei Tigli",
    "Via San Giorgio",
    "Piazza della Repubblica",
    "Viale della Libertà",
    "Via Antonio Gramsci",
    "Via Enrico Fermi",
];

pub(super) const MOBILE_PREFIXES: [u16; 14] = [
    320, 324, 327, 328, 329, 333, 339, 340, 345, 347, 348, 349, 366, 393,
];

/// Diets: code, name, kind, weight among pupils with a special diet.
pub(super) const DIETS: [(&str, &str, DietKind, u32); 5] = [
    ("CEL", "Senza glutine", DietKind::Health, 3),
    ("LAT", "Senza lattosio", DietKind::Health, 3),
    ("NOMAI", "Senza carne di maiale", DietKind::Ethical, 4),
    ("VEG", "Vegetariana", DietKind::Ethical, 2),
    ("ALL-FS", "Allergia frutta secca", DietKind::Health, 2),
];

pub(super) const SCHOOLS: [(&str, SchoolKind, &str); 4] = [
    (
        "Scuola dell'infanzia Arcobaleno",
        SchoolKind::Infanzia,
        "Via dei Tigli 4, Esempio",
    ),
    (
        "Scuola primaria Gianni Rodari",
        SchoolKind::Primaria,
        "Piazza della Repubblica 3, Esempio",
    ),
    (
        "Scuola primaria Maria Montessori",
        SchoolKind::Primaria,
        "Via Giuseppe Mazzini 27, Esempio",
    ),
    (
        "Scuola secondaria di primo grado Dante Alighieri",
        SchoolKind::SecondariaPrimoGrado,
        "Viale della Libertà 45, Esempio",
    ),
];
pub(super) const INFANZIA: usize = 0;
pub(super) const RODARI: usize = 1;
pub(super) const MONTESSORI: usize = 2;
pub(super) const DANTE: usize = 3;

pub(super) const MON_FRI: Weekdays = Weekdays::MON_FRI;
pub(super) const MON_WED: Weekdays = Weekdays::from_bits(0b000_0101);
pub(super) const TUE_THU: Weekdays = Weekdays::from_bits(0b000_1010);
pub(super) const TUE: Weekdays = Weekdays::from_bits(0b000_0010);

/// A pupil's "level": 0..=2 the ages 3, 4, 5 at the infanzia; 3..=7 primaria classes 1..5;
/// 8..=10 secondaria classes 1..3. A pupil of level `l` was born in `start year - 3 - l`.
pub(super) const LEVELS: u8 = 11;
/// How many pupils of each level, relatively (primaria has three sections, the others one).
pub(super) const LEVEL_WEIGHTS: [u32; LEVELS as usize] =
    [22, 22, 22, 58, 58, 58, 58, 58, 18, 18, 18];

pub(super) struct ClassSpec {
    pub(super) school: usize,
    pub(super) name: String,
    pub(super) weekdays: Weekdays,
}

pub(super) fn class_specs() -> Vec<ClassSpec> {
    let mut out = Vec::new();
    for s in ["A", "B", "C"] {
        out.push(ClassSpec {
            school: INFANZIA,
            name: format!("Sezione {s}"),
            weekdays: MON_FRI,
        });
    }
    for k in 1..=5 {
        // Rodari: section A full time (tempo pieno), section B two rientri.
        out.push(ClassSpec {
            school: RODARI,
            name: format!("{k} A"),
            weekdays: MON_FRI,
        });
        out.push(ClassSpec {
            school: RODARI,
            name: format!("{k} B"),
            weekdays: MON_WED,
        });
        out.push(ClassSpec {
            school: MONTESSORI,
            name: format!("{k} A"),
            weekdays: TUE_THU,
        });
    }
    for (k, w) in [(1, MON_WED), (2, TUE_THU), (3, TUE)] {
        out.push(ClassSpec {
            school: DANTE,
            name: format!("{k} A"),
            weekdays: w,
        });
    }
    out
}

pub(super) fn class_index(
    specs: &[ClassSpec],
    school: usize,
    name: &str,
) -> Result<usize, AppError> {
    specs
        .iter()
        .position(|c| c.school == school && c.name == name)
        .ok_or_else(|| AppError::Invalid(format!("demo: no class {name}")))
}
