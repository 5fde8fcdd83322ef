//! Column types shared by both backends.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

/// A calendar date: `DATE` on PostgreSQL, `TEXT 'YYYY-MM-DD'` on SQLite (fixed width, sorts
/// correctly). Encoded through the `time` crate, which sqlx knows on both backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SqlDate(pub jiff::civil::Date);

impl From<jiff::civil::Date> for SqlDate {
    fn from(d: jiff::civil::Date) -> Self {
        SqlDate(d)
    }
}

fn to_time(d: jiff::civil::Date) -> Result<time::Date, BoxDynError> {
    let month = time::Month::try_from(d.month() as u8)?;
    Ok(time::Date::from_calendar_date(
        i32::from(d.year()),
        month,
        d.day() as u8,
    )?)
}

fn from_time(d: time::Date) -> Result<jiff::civil::Date, BoxDynError> {
    let year = i16::try_from(d.year())?;
    Ok(jiff::civil::Date::new(
        year,
        u8::from(d.month()) as i8,
        d.day() as i8,
    )?)
}

impl<DB: Database> Type<DB> for SqlDate
where
    time::Date: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <time::Date as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <time::Date as Type<DB>>::compatible(ty)
    }
}

impl<'q, DB: Database> Encode<'q, DB> for SqlDate
where
    time::Date: Encode<'q, DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        to_time(self.0)?.encode_by_ref(buf)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for SqlDate
where
    time::Date: Decode<'r, DB>,
{
    fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(SqlDate(from_time(<time::Date as Decode<DB>>::decode(
            value,
        )?)?))
    }
}

/// An instant as integer microseconds since the Unix epoch (both backends: BIGINT / INTEGER).
pub fn micros(t: jiff::Timestamp) -> i64 {
    // Timestamps fit comfortably: jiff's range is ±9999 years.
    t.as_microsecond()
}

pub fn from_micros(us: i64) -> Result<jiff::Timestamp, crate::DbError> {
    jiff::Timestamp::from_microsecond(us)
        .map_err(|e| crate::DbError::Corrupt(format!("instant {us}: {e}")))
}
