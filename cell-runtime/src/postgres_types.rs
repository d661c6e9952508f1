//! Support for the column types the generated code binds and reads: `#[derive(Postgres::Enum)]`
//! enums (their `ToSql`/`FromSql` call these helpers) and the one-error check that a field's
//! enum type really derives it.

use std::error::Error as StdError;

use bytes::BytesMut;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type};

type BoxError = Box<dyn StdError + Sync + Send>;

/// An enum with `#[derive(Postgres::Enum)]`: a Postgres enum type `NAME` with `LABELS`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Postgres enum: it does not derive `Postgres::Enum`",
    label = "no `#[derive(Postgres::Enum)]`",
    note = "a field type must be one of: `bool`, `i16`, `i32`, `i64`, `f32`, `f64`, `String`, `Uuid`, `DateTime<Utc>`, `NaiveDateTime`, `NaiveDate`, `NaiveTime`, `Decimal`, `serde_json::Value`, `Vec<u8>`, `Vec<T>` of those, `Option<T>` of any of them, or an enum with `#[derive(Postgres::Enum)]`"
)]
pub trait PostgresEnum: ToSql + for<'a> FromSql<'a> + Sync + Send + Sized {
    /// The Postgres type's name.
    const NAME: &'static str;
    /// The labels, in declaration order.
    const LABELS: &'static [&'static str];
}

/// A field type that holds a Postgres enum: `E`, `Option<E>`, `Vec<E>`, `Option<Vec<E>>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no Postgres column type and is not a `#[derive(Postgres::Enum)]` enum",
    label = "no Postgres column type",
    note = "a field type must be one of: `bool`, `i16`, `i32`, `i64`, `f32`, `f64`, `String`, `Uuid`, `DateTime<Utc>`, `NaiveDateTime`, `NaiveDate`, `NaiveTime`, `Decimal`, `serde_json::Value`, `Vec<u8>`, `Vec<T>` of those, `Option<T>` of any of them, or an enum with `#[derive(Postgres::Enum)]`"
)]
pub trait EnumColumn: ToSql + for<'a> FromSql<'a> + Sync + Sized {
    /// The enum's Postgres name.
    const ENUM_NAME: &'static str;
}

#[diagnostic::do_not_recommend]
impl<E: PostgresEnum> EnumColumn for E {
    const ENUM_NAME: &'static str = E::NAME;
}
#[diagnostic::do_not_recommend]
impl<E: PostgresEnum> EnumColumn for Option<E> {
    const ENUM_NAME: &'static str = E::NAME;
}
#[diagnostic::do_not_recommend]
impl<E: PostgresEnum> EnumColumn for Vec<E> {
    const ENUM_NAME: &'static str = E::NAME;
}
#[diagnostic::do_not_recommend]
impl<E: PostgresEnum> EnumColumn for Option<Vec<E>> {
    const ENUM_NAME: &'static str = E::NAME;
}

/// How generated code binds and reads an enum column. Every use goes through
/// [`enum_column`], so a field whose type is not an enum gives one error (the same one at
/// each use, which rustc reports once), not one per method.
pub struct EnumOps<T> {
    pub param: for<'a> fn(&'a T) -> &'a (dyn ToSql + Sync),
    pub get: fn(&Row, usize) -> Result<T, crate::Error>,
}

fn param<T: EnumColumn>(value: &T) -> &(dyn ToSql + Sync) {
    value
}

fn get<T: EnumColumn>(row: &Row, index: usize) -> Result<T, crate::Error> {
    Ok(row.try_get(index)?)
}

pub fn enum_column<T: EnumColumn>() -> EnumOps<T> {
    EnumOps {
        param: param::<T>,
        get: get::<T>,
    }
}

/// Whether `ty` is the Postgres enum `name`.
pub fn enum_accepts(ty: &Type, name: &str) -> bool {
    ty.name() == name && matches!(ty.kind(), Kind::Enum(_))
}

/// Writes a label (enum values travel as their label's text).
pub fn enum_to_sql(label: &str, out: &mut BytesMut) -> Result<IsNull, BoxError> {
    out.extend_from_slice(label.as_bytes());
    Ok(IsNull::No)
}

/// Reads a label.
pub fn enum_from_sql(raw: &[u8]) -> Result<&str, BoxError> {
    Ok(std::str::from_utf8(raw)?)
}

/// The error for a label the Rust enum does not have (the database's enum has more).
pub fn unknown_label(rust: &str, name: &str, label: &str) -> BoxError {
    format!(
        "the Postgres enum `{name}` has the label `{label}`, which the Rust enum `{rust}` does not know; \
         run `cargo cell build` so the code and the database agree"
    )
    .into()
}

/// `a == b` in a `const` context (the enum checks against the lock).
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
