use cell_runtime::prelude::*;

#[Postgres::table(name = "patients")]
#[Redis::cache(ttl = "5m")]
#[Security::pii(fields = ["diagnosis"])]
#[Security::hipaa(protected_health_info = true)]
#[derive(serde::Serialize, serde::Deserialize)]
struct Patient {
    #[Postgres::primary_key]
    id: i64,
    diagnosis: String,
}

fn main() {}
