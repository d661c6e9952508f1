// Without `name = ...`, the table is the struct's name in snake_case, plural.
#![deny(warnings)]

use cell_runtime::prelude::*;

#[Postgres::table]
struct UserAccount {
    #[Postgres::primary_key]
    id: i64,
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const _: () = assert!(same(UserAccount::TABLE, "user_accounts"));

fn main() {}
