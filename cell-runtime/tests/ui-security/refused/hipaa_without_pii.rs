use cell_runtime::prelude::*;

#[Postgres::table(name = "patients")]
#[Security::hipaa(protected_health_info = true)]
struct Patient {
    #[Postgres::primary_key]
    id: i64,
    diagnosis: String,
}

fn main() {}
