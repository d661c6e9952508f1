//! Macro cost: what `#[Postgres::table]` does per item inside rustc (parse the struct and
//! its attributes, validate, check against the lock, generate the API), measured in-process
//! with criterion. Run by `scripts/bench`; `cargo bench -p cell-postgres --bench expand`.

use std::hint::black_box;
use std::path::Path;

use cell_postgres::check;
use cell_postgres::declare::desired_schema;
use cell_postgres::expand::{LockView, expand};
use cell_postgres::lock::Lock;
use cell_postgres::parse::{parse_table_lenient, validate};
use criterion::{Criterion, criterion_group, criterion_main};
use proc_macro2::TokenStream;
use syn::ItemStruct;

const USERS: &str = r#"
pub struct User {
    #[Postgres::primary_key]
    pub id: Uuid,
    #[Postgres::index(unique)]
    pub email: String,
    #[Postgres::default("NOW()")]
    pub created_at: DateTime<Utc>,
    #[Postgres::foreign_key(ref = "organizations.id", on_delete = "cascade")]
    pub org_id: Uuid,
    pub nickname: Option<String>,
}"#;

fn wide() -> String {
    let mut s = String::from("pub struct Wide {\n    #[Postgres::primary_key]\n    pub id: i64,\n");
    for i in 0..29 {
        let attr = if i % 5 == 0 {
            "    #[Postgres::index]\n"
        } else {
            ""
        };
        let ty = ["String", "i32", "Option<String>", "f64", "bool"][i % 5];
        s.push_str(&format!("{attr}    pub f{i}: {ty},\n"));
    }
    s.push('}');
    s
}

/// One expansion, as the shim runs it: parse, validate, then expand (with the lock's entry
/// for the table when `lock` is given).
fn run(args: &TokenStream, input: &TokenStream, lock: Option<&Lock>) -> TokenStream {
    let mut item: ItemStruct = syn::parse2(input.clone()).unwrap();
    let (parsed, errors) = parse_table_lenient(args.clone(), &mut item);
    errors.finish().unwrap();
    validate(&parsed).unwrap();
    match lock {
        None => expand(&item, &parsed, LockView::Absent),
        Some(lock) => {
            let table = lock.tables.get(&parsed.decl.name);
            let mismatches = check::against_lock(
                &parsed.decl,
                check::Locked {
                    tables: &lock.tables,
                    enums: &lock.enums,
                },
            );
            expand(
                &item,
                &parsed,
                LockView::Present {
                    path: Path::new("/ws/.cell/postgres.lock.json"),
                    table,
                    mismatches,
                },
            )
        }
    }
}

fn bench(c: &mut Criterion) {
    for (name, table, src) in [
        ("users", "users", USERS.to_string()),
        ("wide_30_columns", "wides", wide()),
    ] {
        let args: TokenStream = format!("name = \"{table}\"").parse().unwrap();
        let input: TokenStream = src.parse().unwrap();
        // The lock this table would have after `cargo cell build`.
        let mut item: ItemStruct = syn::parse2(input.clone()).unwrap();
        let decl = parse_table_lenient(args.clone(), &mut item).0.decl;
        let lock = Lock::from_schema(desired_schema(std::slice::from_ref(&decl)));
        c.bench_function(&format!("expand/{name}/no_lock"), |b| {
            b.iter(|| black_box(run(&args, &input, None)))
        });
        c.bench_function(&format!("expand/{name}/against_lock"), |b| {
            b.iter(|| black_box(run(&args, &input, Some(&lock))))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
