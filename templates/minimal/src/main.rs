//! One table in the Postgres Cell, and a binary that uses it.
//!
//! `cargo cell build` starts the Cell, creates the table and writes `.cell/postgres.lock.json`
//! (commit it); `cargo cell run` runs this program against the Cell; `cargo cell test` tests it.

use cell_runtime::prelude::*;

/// Each run of the program leaves one visit.
#[Postgres::table(name = "visits")]
pub struct Visit {
    #[Postgres::primary_key]
    pub id: Uuid,
    #[Postgres::default("NOW()")]
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

/// The Cells this program talks to.
#[service]
pub struct Cells {
    pub db: PostgresConnection,
}

/// Records one visit; returns how many there are now.
pub async fn visit(cells: &Cells, note: Option<String>) -> Result<i64, Error> {
    let visit = Visit { id: Uuid::new_v4(), at: Utc::now(), note };
    visit.insert(&cells.db).await?;
    Visit::count(&cells.db).await
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let cells = Cells::connect().await?;
    let count = visit(&cells, std::env::args().nth(1)).await?;
    println!("visits so far: {count}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_visit_is_stored() {
        let cells = Cells::connect().await.expect("run the tests with `cargo cell test`");
        let before = Visit::count(&cells.db).await.unwrap();
        let after = visit(&cells, Some("from a test".into())).await.unwrap();
        assert!(after > before);
    }
}
