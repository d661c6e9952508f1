// Every supported field type, in every form (plain, `Option`, `Vec`, `Option<Vec>`), goes
// through the generated API: the binds and reads type-check against tokio-postgres'
// `ToSql`/`FromSql` for each.
#![deny(warnings)]

use cell_runtime::prelude::*;
use cell_runtime::serde_json;

#[derive(Postgres::Enum, Debug, Clone, Copy, PartialEq)]
enum Mood {
    Happy,
    Sad,
}

#[Postgres::table]
struct Everything {
    #[Postgres::primary_key]
    id: i64,
    a_bool: bool,
    a_i16: i16,
    a_i32: i32,
    a_f32: f32,
    a_f64: f64,
    a_string: String,
    #[Postgres::varchar(80)]
    a_varchar: String,
    a_uuid: Uuid,
    a_timestamptz: DateTime<Utc>,
    a_timestamp: NaiveDateTime,
    a_date: NaiveDate,
    a_time: NaiveTime,
    a_decimal: Decimal,
    a_json: serde_json::Value,
    a_bytes: Vec<u8>,
    an_enum: Mood,
    maybe_bool: Option<bool>,
    maybe_decimal: Option<Decimal>,
    maybe_json: Option<serde_json::Value>,
    maybe_bytes: Option<Vec<u8>>,
    #[Postgres::varchar(10)]
    maybe_varchar: Option<String>,
    maybe_enum: Option<Mood>,
    bools: Vec<bool>,
    i16s: Vec<i16>,
    i32s: Vec<i32>,
    i64s: Vec<i64>,
    f32s: Vec<f32>,
    f64s: Vec<f64>,
    strings: Vec<String>,
    uuids: Vec<Uuid>,
    timestamps: Vec<DateTime<Utc>>,
    naive_timestamps: Vec<NaiveDateTime>,
    dates: Vec<NaiveDate>,
    decimals: Vec<Decimal>,
    jsons: Vec<serde_json::Value>,
    enums: Vec<Mood>,
    maybe_strings: Option<Vec<String>>,
    maybe_enums: Option<Vec<Mood>>,
}

async fn exercise(db: &PostgresConnection, row: Everything) -> Result<(), Error> {
    row.insert(db).await?;
    let _: Option<Everything> = Everything::find_by_id(db, &row.id).await?;
    let _: Option<Everything> = row.update(db).await?;
    let _: Vec<Everything> = Everything::all(db, 1, 0).await?;
    Ok(())
}

fn main() {
    let _ = exercise;
}
