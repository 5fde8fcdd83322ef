//! Who eats on a day: the `FROM … WHERE` shared by the close's charge, the kitchen's forecast
//! and a closure's preview, so that the three count the same meals.

use refettorio_domain::ClassId;

/// `e.class_id` is one of the classes bound as `$n`, one parameter however many classes eat that
/// day (a list of placeholders would hit PostgreSQL's limit of 65,535 parameters at about 1.6
/// million enrolments, and be a new statement for every count): an array on PostgreSQL, whose
/// planner hashes it when the statement is planned with the array's values (so the statements
/// using it are not kept prepared), and a JSON array on SQLite, which builds an index of it once.
macro_rules! in_classes {
    (postgres, $n:literal) => {
        concat!("e.class_id = ANY($", $n, ")")
    };
    (sqlite, $n:literal) => {
        concat!("e.class_id IN (SELECT value FROM json_each($", $n, "))")
    };
}

/// Who eats on day `$3`: the active, started enrolments (`e`) of service `$2` of tenant `$1`
/// in the classes bound as `$n`, with their booking of the day (`b`, absent ones left out).
/// The `FROM … WHERE` of the close's charge, the forecast and the closure preview's families,
/// so that the three count the same meals; `$join` adds a table joined to `e`.
macro_rules! eating {
    ($backend:ident, $n:literal) => {
        $crate::attendance::eating!($backend, $n, "")
    };
    ($backend:ident, $n:literal, $join:literal) => {
        concat!(
            " FROM enrolment e",
            $join,
            " LEFT JOIN booking b ON b.tenant_id = e.tenant_id AND b.enrolment_id = e.id AND b.day = $3 \
             WHERE e.tenant_id = $1 AND e.service_id = $2 AND e.state = 'attivo' AND e.start_date <= $3 \
               AND (b.choice IS NULL OR b.choice <> 'absent') AND ",
            $crate::attendance::in_classes!($backend, $n)
        )
    };
}

pub(crate) use {eating, in_classes};

/// The classes of [`in_classes!`], in each database's form.
pub(crate) struct ClassList {
    pub(crate) ids: Vec<i64>,
    pub(crate) json: String,
}

impl ClassList {
    pub(crate) fn new(classes: &[ClassId]) -> ClassList {
        let ids: Vec<i64> = classes.iter().map(|c| c.get()).collect();
        let json = format!(
            "[{}]",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        );
        ClassList { ids, json }
    }
}
