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

fn main() {
    let _ = Organization::find_by_slug;
    let _ = Organization::TABLE;
}
