//! SQL text every Cell that writes SQL needs: identifiers quoted and truncated as Postgres
//! stores them, and string literals. One copy, for the Postgres Cell and the Search Cell.

/// Postgres truncates identifiers to `NAMEDATALEN - 1` bytes; names we derive must be
/// truncated the same way, or the live name never matches the declared one.
pub const MAX_IDENT_LEN: usize = 63;

/// Quotes an identifier for SQL: `users` → `"users"`, `a"b` → `"a""b"`.
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Truncates a derived name to what Postgres would store, on a char boundary.
pub fn truncate(name: String) -> String {
    if name.len() <= MAX_IDENT_LEN {
        return name;
    }
    let mut end = MAX_IDENT_LEN;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

/// An SQL string literal: `it's` → `'it''s'`.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers_and_literals() {
        assert_eq!(quote("users"), "\"users\"");
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn truncates_like_postgres_on_whole_characters() {
        let long = "x".repeat(70);
        assert_eq!(truncate(long).len(), 63);
        assert_eq!(truncate("short".into()), "short");
        assert_eq!(truncate("é".repeat(40)).len(), 62);
    }
}
