use cell_runtime::prelude::*;

// Not a table: no primary key identifies a data subject, so there is nothing to forget by.
#[Security::gdpr(right_to_be_forgotten = true)]
struct Visitor {
    email: String,
}

fn main() {}
