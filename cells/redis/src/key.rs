//! Where things live in Redis. Every key starts with `cell:`:
//!
//! - a table's entries: `cell:{app}:t:{table}:{fingerprint}:{field}:{value}`, where the
//!   fingerprint hashes the row's shape (field names and types): a schema change moves the
//!   table to a new namespace, so an old-shaped value is never decoded;
//! - a memoized function's entries: `cell:{app}:m:{fingerprint}:{module::fn}:{args hash}`,
//!   where the fingerprint hashes the function's name, argument and return types;
//! - a tag's members: `cell:tag:{tag}` (a set of entry keys).
//!
//! `{app}` is the package that declares the cache. `{value}` is the hex of the key's
//! compact encoding (the runtime computes it).

use sha2::{Digest, Sha256};

/// Every key cargo-cell writes starts with this.
pub const PREFIX: &str = "cell";

/// `cell:{app}:t:{table}:{fingerprint}`.
pub fn table_namespace(app: &str, table: &str, fingerprint: &str) -> String {
    format!("{PREFIX}:{app}:t:{table}:{fingerprint}")
}

/// `cell:{app}:m:{fingerprint}`.
pub fn memo_namespace(app: &str, fingerprint: &str) -> String {
    format!("{PREFIX}:{app}:m:{fingerprint}")
}

/// `{namespace}:{field}:{value}`.
pub fn entry(namespace: &str, field: &str, value_hex: &str) -> String {
    format!("{namespace}:{field}:{value_hex}")
}

/// The set holding the keys of one tag's entries.
pub fn tag_set(tag: &str) -> String {
    format!("{PREFIX}:tag:{tag}")
}

/// Eight bytes of SHA-256 over the given parts, in hex.
pub fn fingerprint<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}

/// The shape fingerprint of a table's row: its name and every column's name, Rust type, SQL
/// type and nullability, in field order.
pub fn table_fingerprint(decl: &cell_postgres::declare::TableDecl) -> String {
    let mut parts: Vec<&str> = vec![&decl.name];
    for c in &decl.columns {
        parts.extend([
            c.name.as_str(),
            c.rust_type.as_str(),
            c.sql_type.as_str(),
            if c.nullable { "null" } else { "not null" },
        ]);
    }
    fingerprint(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cell_postgres::declare::{ColumnDecl, TableDecl};

    fn table(ty: &str) -> TableDecl {
        TableDecl {
            rust_name: "Product".into(),
            name: "products".into(),
            columns: vec![ColumnDecl {
                name: "price".into(),
                rust_type: ty.into(),
                sql_type: if ty == "i64" { "bigint" } else { "integer" }.into(),
                nullable: false,
                primary_key: false,
                index: None,
                default: None,
                foreign_key: None,
                renamed_from: None,
                enum_type: None,
                encrypted: false,
            }],
            renamed_from: None,
            indexes: vec![],
            checks: vec![],
            search: None,
        }
    }

    #[test]
    fn layout() {
        let ns = table_namespace("shop", "products", "00ff");
        assert_eq!(ns, "cell:shop:t:products:00ff");
        assert_eq!(entry(&ns, "id", "2a"), "cell:shop:t:products:00ff:id:2a");
        assert_eq!(memo_namespace("shop", "ab"), "cell:shop:m:ab");
        assert_eq!(tag_set("user:42"), "cell:tag:user:42");
    }

    #[test]
    fn a_type_change_moves_the_namespace() {
        let a = table_fingerprint(&table("i32"));
        assert_eq!(a.len(), 16);
        assert_eq!(a, table_fingerprint(&table("i32")));
        assert_ne!(a, table_fingerprint(&table("i64")));
    }

    #[test]
    fn fingerprint_parts_are_delimited() {
        assert_ne!(fingerprint(["ab", "c"]), fingerprint(["a", "bc"]));
    }
}
