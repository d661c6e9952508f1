//! `#[Security::hipaa]` above or below `#[Postgres::table]` and `#[Security::pii]`: the
//! reads compile (with their record), and the const names the protected fields.
use cell_runtime::prelude::*;

#[Security::hipaa(protected_health_info = true, event = "chart_read", retention = "10y")]
#[Postgres::table(name = "patients")]
#[Security::pii(fields = ["diagnosis"])]
#[derive(Debug)]
struct Patient {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::index]
    ward: String,
    diagnosis: String,
}

#[Postgres::table(name = "visits")]
#[Security::pii]
#[Search::index(fields = ["notes"])]
#[Security::hipaa(protected_health_info = true)]
struct Visit {
    #[Postgres::primary_key]
    id: uuid::Uuid,
    #[Security::pii]
    notes: String,
}

async fn reads(db: &PostgresConnection) -> Result<(), Error> {
    let _ = Patient::find_by_id(db, &1).await?;
    let _ = Patient::find_by_ward(db, "east").await?;
    let _ = Patient::all(db, 10, 0).await?;
    let _ = Visit::search(db, "cough", 10, 0).await?;
    Ok(())
}

fn main() {
    let phi = Patient::__CELL_PHI.expect("audited");
    assert_eq!((phi.event, phi.fields), ("chart_read", &["diagnosis"][..]));
    assert_eq!(Visit::__CELL_PHI.expect("audited").fields, ["notes"]);
    let _ = reads;
}
