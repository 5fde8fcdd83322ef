//! Import from the previous vendor: the office uploads CSV or XLSX files of guardians,
//! pupils, enrolments and opening balances.
//!
//! The pipeline is pure up to the writes, so each step is tested alone:
//! 1. [`read_upload`]: size, extension and content sniffing, text encoding (UTF-8 with or
//!    without BOM, UTF-16 with BOM, else Windows-1252), the CSV separator (`;`, `,` or tab),
//!    or the first sheet of an XLSX workbook (calamine, within the limits of [`xlsx`]): a
//!    [`Table`] of text cells with the row numbers a spreadsheet shows. The dry run and the
//!    import read through [`read_bounded`]: one file at a time in the process, within a
//!    time budget ([`READ_BUDGET`]);
//! 2. [`parse`]: the columns of the kind ([`ImportKind::columns`], matched by header),
//!    each row's fields (fiscal codes through `domain::codice_fiscale`, dates, amounts,
//!    required fields) and duplicates within the file;
//! 3. [`plan`]: the rows against what the municipality already has ([`Snapshot`]): unknown
//!    schools, classes, bands, people; rows already present are skipped, so the same file
//!    imported again writes nothing;
//! 4. [`apply`]: every write through the registry and ledger functions, in the caller's
//!    transaction. Opening balances are ledger entries of kind carry-over under the key
//!    `import:balance:<payer CF>:<service id>`, so a balance is never credited twice.
//!
//! [`dry_run`] runs 1–3 and writes nothing; [`start`] checks the same way and records an
//! import job; [`run`] does 1–4 in ONE transaction, which also marks the job done.

pub mod apply;
pub mod job;
pub mod kind;
pub mod parse;
pub mod plan;
pub mod read;
pub mod xlsx;

pub use refettorio_db::import::{ImportJob, JobStatus};

pub use apply::{BALANCE_REASON, apply};
pub use job::{
    Report, STALE_AFTER, Started, Upload, dry_run, interrupted, job, jobs, progress, run,
    sha256_hex, start,
};
pub use kind::{Column, ImportKind};
pub use parse::{
    BalanceRow, EnrolmentRow, GuardianRow, PupilRow, Rows, fold, map_headers, parse, parse_date,
    parse_service, parse_year, parse_yes_no,
};
pub use plan::{BandInfo, Plan, Snapshot, Step, balance_key, load_snapshot, plan};
pub use read::{
    BUSY, Budget, MAX_COLUMNS, MAX_FILE_BYTES, MAX_ROWS, READ_BUDGET, Readers, RowError, Table,
    decode_text, read_bounded, read_csv, read_upload, read_upload_until, read_xlsx,
    sniff_separator,
};

#[cfg(test)]
mod tests;
