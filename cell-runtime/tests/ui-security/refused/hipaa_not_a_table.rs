use cell_runtime::prelude::*;

#[Security::pii(fields = ["diagnosis"])]
#[Security::hipaa(protected_health_info = true)]
struct Chart {
    id: i64,
    diagnosis: String,
}

fn main() {}
