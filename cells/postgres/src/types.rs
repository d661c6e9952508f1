//! Which Rust field types map to which Postgres column types.
//!
//! Pure: the macro turns a `syn::Type` into a [`RustType`] first, so the mapping is
//! unit-tested without a compiler.

use std::fmt;

/// A Rust type reduced to what the mapping looks at: the last path segment and its
/// generic type arguments (`chrono::DateTime<Utc>` → `DateTime` with `[Utc]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustType {
    pub name: String,
    pub args: Vec<RustType>,
}

impl RustType {
    pub fn new(name: impl Into<String>, args: Vec<RustType>) -> Self {
        RustType {
            name: name.into(),
            args,
        }
    }

    pub fn plain(name: impl Into<String>) -> Self {
        RustType::new(name, Vec::new())
    }
}

impl fmt::Display for RustType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.args.is_empty() {
            f.write_str("<")?;
            for (i, a) in self.args.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{a}")?;
            }
            f.write_str(">")?;
        }
        Ok(())
    }
}

/// The scalar types, each with its Postgres type as `format_type` prints it.
const SCALARS: &[(&str, &str)] = &[
    ("bool", "boolean"),
    ("i16", "smallint"),
    ("i32", "integer"),
    ("i64", "bigint"),
    ("f32", "real"),
    ("f64", "double precision"),
    ("String", "text"),
    ("Uuid", "uuid"),
    ("DateTime<Utc>", "timestamp with time zone"),
    ("NaiveDateTime", "timestamp without time zone"),
    ("NaiveDate", "date"),
    ("Value", "jsonb"),
    ("Vec<u8>", "bytea"),
];

/// The supported field types, for error messages.
pub fn supported_types() -> String {
    let mut list: Vec<String> = SCALARS
        .iter()
        .map(|(r, _)| {
            if *r == "Value" {
                "`serde_json::Value`".to_string()
            } else {
                format!("`{r}`")
            }
        })
        .collect();
    list.push("`Vec<T>` of those (arrays)".into());
    list.push("`Option<T>` of any of them (NULL)".into());
    list.join(", ")
}

/// A field type's column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub sql_type: String,
    pub nullable: bool,
}

fn scalar(ty: &RustType) -> Option<&'static str> {
    let key = match (ty.name.as_str(), ty.args.as_slice()) {
        ("DateTime", [tz]) if tz.name == "Utc" && tz.args.is_empty() => "DateTime<Utc>".to_string(),
        ("Vec", [inner]) if inner.name == "u8" && inner.args.is_empty() => "Vec<u8>".to_string(),
        ("JsonValue", []) => "Value".to_string(),
        (name, []) => name.to_string(),
        _ => return None,
    };
    SCALARS.iter().find(|(r, _)| *r == key).map(|(_, sql)| *sql)
}

fn non_null(ty: &RustType) -> Option<String> {
    if let Some(sql) = scalar(ty) {
        return Some(sql.to_string());
    }
    match (ty.name.as_str(), ty.args.as_slice()) {
        ("Vec", [inner]) => scalar(inner)
            .filter(|s| *s != "bytea")
            .map(|s| format!("{s}[]")),
        _ => None,
    }
}

/// Maps a field type, or `None` when it has no column type.
pub fn map(ty: &RustType) -> Option<Mapping> {
    match (ty.name.as_str(), ty.args.as_slice()) {
        ("Option", [inner]) => non_null(inner).map(|sql_type| Mapping {
            sql_type,
            nullable: true,
        }),
        _ => non_null(ty).map(|sql_type| Mapping {
            sql_type,
            nullable: false,
        }),
    }
}

/// The Rust type to write for a column type, for help text (`bigint` → `i64`).
pub fn rust_for_sql(sql_type: &str) -> Option<String> {
    if let Some(elem) = sql_type.strip_suffix("[]") {
        return rust_for_sql(elem).map(|r| format!("Vec<{r}>"));
    }
    SCALARS.iter().find(|(_, s)| *s == sql_type).map(|(r, _)| {
        if *r == "Value" {
            "serde_json::Value".to_string()
        } else {
            r.to_string()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(name: &str, args: Vec<RustType>) -> RustType {
        RustType::new(name, args)
    }

    #[test]
    fn maps_scalars() {
        let m = map(&RustType::plain("i32")).unwrap();
        assert_eq!(
            m,
            Mapping {
                sql_type: "integer".into(),
                nullable: false
            }
        );
        assert_eq!(map(&RustType::plain("String")).unwrap().sql_type, "text");
        assert_eq!(
            map(&ty("DateTime", vec![RustType::plain("Utc")]))
                .unwrap()
                .sql_type,
            "timestamp with time zone"
        );
        assert_eq!(
            map(&ty("Vec", vec![RustType::plain("u8")]))
                .unwrap()
                .sql_type,
            "bytea"
        );
    }

    #[test]
    fn option_is_nullable() {
        let m = map(&ty("Option", vec![RustType::plain("String")])).unwrap();
        assert_eq!(
            m,
            Mapping {
                sql_type: "text".into(),
                nullable: true
            }
        );
    }

    #[test]
    fn vec_is_an_array() {
        assert_eq!(
            map(&ty("Vec", vec![RustType::plain("i64")]))
                .unwrap()
                .sql_type,
            "bigint[]"
        );
        assert_eq!(
            map(&ty("Vec", vec![ty("Vec", vec![RustType::plain("i64")])])),
            None
        );
    }

    #[test]
    fn rejects_unknown_types() {
        assert_eq!(map(&RustType::plain("u32")), None);
        assert_eq!(map(&RustType::plain("HashMap")), None);
        assert_eq!(map(&ty("DateTime", vec![RustType::plain("Local")])), None);
        assert_eq!(
            map(&ty(
                "Option",
                vec![ty("Option", vec![RustType::plain("i32")])]
            )),
            None
        );
    }

    #[test]
    fn displays_like_source() {
        let t = ty("Option", vec![ty("DateTime", vec![RustType::plain("Utc")])]);
        assert_eq!(t.to_string(), "Option<DateTime<Utc>>");
    }

    #[test]
    fn suggests_rust_types() {
        assert_eq!(rust_for_sql("bigint").as_deref(), Some("i64"));
        assert_eq!(rust_for_sql("text[]").as_deref(), Some("Vec<String>"));
        assert_eq!(rust_for_sql("jsonb").as_deref(), Some("serde_json::Value"));
        assert_eq!(rust_for_sql("circle"), None);
    }
}
