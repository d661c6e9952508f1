use cell_runtime::prelude::*;

#[Postgres::table(name = "patients")]
#[Security::pii(fields = ["diagnosis"])]
#[Security::hipaa(protected_health_info = false, retention = "forever")]
struct Patient {
    #[Postgres::primary_key]
    id: i64,
    diagnosis: String,
}

fn main() {}
