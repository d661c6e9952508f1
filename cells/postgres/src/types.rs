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
    ("NaiveTime", "time without time zone"),
    ("Decimal", "numeric"),
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
    list.push("an enum with `#[derive(Postgres::Enum)]`".into());
    list.join(", ")
}

/// The Postgres type of `#[Postgres::varchar(n)]`, as `format_type` prints it.
pub fn varchar(len: u32) -> String {
    format!("character varying({len})")
}

/// `character varying(80)` → `Some(80)`.
pub fn varchar_len(sql_type: &str) -> Option<u32> {
    sql_type
        .strip_prefix("character varying(")?
        .strip_suffix(')')?
        .parse()
        .ok()
}

/// The longest `varchar(n)` Postgres accepts.
pub const MAX_VARCHAR: u32 = 10_485_760;

/// What a field type is, for the table macro.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classified {
    /// A supported type with its column type.
    Mapped(Mapping),
    /// A type the macro cannot map but that may be a `#[derive(Postgres::Enum)]` enum it
    /// cannot see: a name starting with an upper-case letter, without generic arguments,
    /// not a well-known non-enum type; optionally in `Option<..>` and/or `Vec<..>`.
    /// Resolved later by [`crate::declare::resolve_enums`] (phase 1) or against the lock.
    EnumCandidate {
        /// The enum's name as written (last path segment): `OrderStatus`.
        rust_name: String,
        array: bool,
        nullable: bool,
    },
    /// No column type: an immediate error.
    Unsupported,
}

/// Upper-case type names that are never enums of ours, so they stay immediate errors.
const NOT_ENUMS: &[&str] = &[
    "String",
    "Vec",
    "Option",
    "Box",
    "Rc",
    "Arc",
    "Cow",
    "Cell",
    "RefCell",
    "Mutex",
    "RwLock",
    "HashMap",
    "BTreeMap",
    "HashSet",
    "BTreeSet",
    "VecDeque",
    "Path",
    "PathBuf",
    "OsString",
    "Duration",
    "SystemTime",
    "Instant",
    "IpAddr",
    "Ipv4Addr",
    "Ipv6Addr",
    "SocketAddr",
    "Url",
    "Utc",
    "Local",
    "FixedOffset",
    "DateTime",
    "TimeDelta",
    "Value",
    "JsonValue",
    "Decimal",
    "Uuid",
    "NaiveDate",
    "NaiveDateTime",
    "NaiveTime",
    "Self",
];

fn enum_name(ty: &RustType) -> Option<&str> {
    let first = ty.name.chars().next()?;
    (first.is_ascii_uppercase() && ty.args.is_empty() && !NOT_ENUMS.contains(&ty.name.as_str()))
        .then_some(ty.name.as_str())
}

/// Classifies a field type: mapped, a possible enum, or unsupported.
pub fn classify(ty: &RustType) -> Classified {
    if let Some(m) = map(ty) {
        return Classified::Mapped(m);
    }
    let (inner, nullable) = match (ty.name.as_str(), ty.args.as_slice()) {
        ("Option", [inner]) => (inner, true),
        _ => (ty, false),
    };
    let (elem, array) = match (inner.name.as_str(), inner.args.as_slice()) {
        ("Vec", [elem]) => (elem, true),
        _ => (inner, false),
    };
    match enum_name(elem) {
        Some(name) => Classified::EnumCandidate {
            rust_name: name.to_string(),
            array,
            nullable,
        },
        None => Classified::Unsupported,
    }
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
    if varchar_len(sql_type).is_some() {
        return Some("String".to_string());
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
    fn every_listed_type_maps() {
        let cases = [
            ("bool", vec![], "boolean"),
            ("i16", vec![], "smallint"),
            ("i32", vec![], "integer"),
            ("i64", vec![], "bigint"),
            ("f32", vec![], "real"),
            ("f64", vec![], "double precision"),
            ("String", vec![], "text"),
            ("Uuid", vec![], "uuid"),
            (
                "DateTime",
                vec![RustType::plain("Utc")],
                "timestamp with time zone",
            ),
            ("NaiveDateTime", vec![], "timestamp without time zone"),
            ("NaiveDate", vec![], "date"),
            ("NaiveTime", vec![], "time without time zone"),
            ("Decimal", vec![], "numeric"),
            ("Value", vec![], "jsonb"),
            ("JsonValue", vec![], "jsonb"),
            ("Vec", vec![RustType::plain("u8")], "bytea"),
        ];
        for (name, args, sql) in cases {
            let t = ty(name, args);
            assert_eq!(map(&t).unwrap().sql_type, sql, "{t}");
            // Every scalar except bytea also has an array and a nullable form.
            let opt = map(&ty("Option", vec![t.clone()])).unwrap();
            assert_eq!((opt.sql_type.as_str(), opt.nullable), (sql, true));
            if sql != "bytea" {
                let arr = ty("Vec", vec![t.clone()]);
                assert_eq!(map(&arr).unwrap().sql_type, format!("{sql}[]"), "{arr}");
                let opt_arr = map(&ty("Option", vec![arr])).unwrap();
                assert_eq!(opt_arr.sql_type, format!("{sql}[]"));
                assert!(opt_arr.nullable);
            }
            // And the help text can name it back.
            assert!(rust_for_sql(sql).is_some(), "{sql}");
        }
    }

    #[test]
    fn classifies_enum_candidates() {
        assert_eq!(
            classify(&RustType::plain("OrderStatus")),
            Classified::EnumCandidate {
                rust_name: "OrderStatus".into(),
                array: false,
                nullable: false
            }
        );
        assert_eq!(
            classify(&ty(
                "Option",
                vec![ty("Vec", vec![RustType::plain("Mood")])]
            )),
            Classified::EnumCandidate {
                rust_name: "Mood".into(),
                array: true,
                nullable: true
            }
        );
        assert!(matches!(
            classify(&RustType::plain("i32")),
            Classified::Mapped(_)
        ));
        for unsupported in [
            RustType::plain("u32"),
            RustType::plain("PathBuf"),
            RustType::plain("Duration"),
            ty(
                "HashMap",
                vec![RustType::plain("String"), RustType::plain("String")],
            ),
            ty("Generic", vec![RustType::plain("i32")]),
            ty("DateTime", vec![RustType::plain("Local")]),
            ty("Vec", vec![ty("Vec", vec![RustType::plain("Mood")])]),
        ] {
            assert_eq!(
                classify(&unsupported),
                Classified::Unsupported,
                "{unsupported}"
            );
        }
    }

    #[test]
    fn varchar_reads_back_as_string() {
        assert_eq!(varchar(80), "character varying(80)");
        assert_eq!(varchar_len("character varying(80)"), Some(80));
        assert_eq!(varchar_len("text"), None);
        assert_eq!(
            rust_for_sql("character varying(80)").as_deref(),
            Some("String")
        );
        assert_eq!(
            rust_for_sql("character varying(80)[]").as_deref(),
            Some("Vec<String>")
        );
        assert_eq!(rust_for_sql("numeric").as_deref(), Some("Decimal"));
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
