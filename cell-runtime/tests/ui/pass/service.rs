// `#[service]` on a struct of connections gives it `connect`. `main` builds the future
// without polling it, so no database is touched.
#![deny(warnings)]

use cell_runtime::prelude::*;

#[service]
struct S {
    db: PostgresConnection,
}

fn assert_connect<F: Future<Output = Result<S, Error>> + Send>(future: F) -> F {
    future
}

fn main() {
    drop(assert_connect(S::connect()));
    let _ = |s: S| s.db;
}
