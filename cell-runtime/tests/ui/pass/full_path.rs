// The attributes work by full path, without the prelude: the generated code names everything
// by absolute path.
#![deny(warnings)]

#[cell_runtime::Postgres::table]
struct Organization {
    #[cell_runtime::Postgres::primary_key]
    id: cell_runtime::uuid::Uuid,
    #[cell_runtime::Postgres::unique]
    slug: String,
}

// The generated methods take `&impl Executor`: no trait needs importing to call them.
async fn reads(db: &cell_runtime::PostgresConnection) -> Result<(), cell_runtime::Error> {
    let _ = Organization::find_by_slug(db, "acme").await?;
    Ok(())
}

fn main() {
    let _ = reads;
    let _ = Organization::TABLE;
}
