//! SQL identifiers: quoting, and the names Postgres derives for indexes and constraints.

pub use cell_core::sql::{MAX_IDENT_LEN, quote, truncate};

/// Whether `name` is a plain lower-case SQL identifier that needs no quoting to be read back
/// as itself. Declared names must be: it keeps SQL written by hand against the schema simple.
pub fn is_plain(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= MAX_IDENT_LEN
}

/// `UserAccount` → `user_account`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The default table name of a struct: its snake_case name in the plural, by the simple
/// English rules (`User` → `users`, `Category` → `categories`, `Box` → `boxes`).
pub fn default_table_name(struct_name: &str) -> String {
    let snake = snake_case(struct_name);
    if let Some(stem) = snake.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
        && !stem.is_empty()
    {
        return format!("{stem}ies");
    }
    if snake.ends_with('s')
        || snake.ends_with('x')
        || snake.ends_with("ch")
        || snake.ends_with("sh")
    {
        return format!("{snake}es");
    }
    format!("{snake}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table_names() {
        assert_eq!(default_table_name("User"), "users");
        assert_eq!(default_table_name("Organization"), "organizations");
        assert_eq!(default_table_name("UserAccount"), "user_accounts");
        assert_eq!(default_table_name("Category"), "categories");
        assert_eq!(default_table_name("Day"), "days");
        assert_eq!(default_table_name("Box"), "boxes");
        assert_eq!(default_table_name("Address"), "addresses");
        assert_eq!(default_table_name("HTTPRequest"), "http_requests");
    }

    #[test]
    fn plain_identifiers() {
        assert!(is_plain("users"));
        assert!(is_plain("_x1"));
        assert!(!is_plain("Users"));
        assert!(!is_plain("1x"));
        assert!(!is_plain("a-b"));
        assert!(!is_plain(""));
    }
}
