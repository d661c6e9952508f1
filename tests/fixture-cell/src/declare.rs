//! What the code declares, as recorded: one [`EntryDecl`] per `#[Kv::entry]`.

use serde::{Deserialize, Serialize};

/// `#[Kv::entry(key = "greeting", value = "hello")]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryDecl {
    pub key: String,
    pub value: String,
}

impl EntryDecl {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> EntryDecl {
        EntryDecl {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// Whether `key` may be declared: it names the recorded fragment file
/// (`kv.entry.<key>.json`), so only `[A-Za-z0-9_:.-]`, not starting with `.`.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('.')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_key_rules() {
        let d = EntryDecl::new("greeting", "hello");
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v, serde_json::json!({"key": "greeting", "value": "hello"}));
        assert_eq!(serde_json::from_value::<EntryDecl>(v).unwrap(), d);
        for ok in ["greeting", "app:greeting", "a.b-c_d", "9"] {
            assert!(valid_key(ok), "{ok}");
        }
        for bad in ["", ".hidden", "a/b", "a b", "ключ"] {
            assert!(!valid_key(bad), "{bad}");
        }
    }
}
