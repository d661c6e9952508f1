//! What a guard asks for, and how two rules compare.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// The rule of one guarded function.
///
/// `Any` admits a caller holding at least one of the roles (`role = "admin"` is `Any` of one).
/// `Protected` admits every authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rule {
    Protected,
    Any { roles: BTreeSet<String> },
}

impl Rule {
    pub fn any<I: IntoIterator<Item = S>, S: Into<String>>(roles: I) -> Rule {
        Rule::Any {
            roles: roles.into_iter().map(Into::into).collect(),
        }
    }

    pub fn roles(&self) -> impl Iterator<Item = &str> {
        let roles = match self {
            Rule::Protected => None,
            Rule::Any { roles } => Some(roles),
        };
        roles.into_iter().flatten().map(String::as_str)
    }

    /// Every caller `self` admits is admitted by `other` too.
    pub fn is_at_least_as_strict_as(&self, other: &Rule) -> bool {
        match (self, other) {
            (_, Rule::Protected) => true,
            (Rule::Protected, Rule::Any { .. }) => false,
            (Rule::Any { roles: mine }, Rule::Any { roles: theirs }) => mine.is_subset(theirs),
        }
    }

    /// `admin`, `any of admin, support`, `any authenticated caller`.
    pub fn describe(&self) -> String {
        match self {
            Rule::Protected => "any authenticated caller".into(),
            Rule::Any { roles } if roles.len() == 1 => {
                format!("role {}", roles.iter().next().expect("one role"))
            }
            Rule::Any { roles } => format!(
                "any of {}",
                roles.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// One guarded function, as the macro records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardDecl {
    /// `crate::module::function`: the crate, the module derived from the source file's path,
    /// and the function's name (a second function of that path in one file gets `#2`, ...).
    pub path: String,
    pub rule: Rule,
}

/// The lock's and the manifest's key for a function: `crate::module::name`, with the module
/// taken from the source file's path relative to `src/` (`src/main.rs`, `src/lib.rs` → none,
/// `src/api/mod.rs` → `api`, `src/api/admin.rs` → `api::admin`).
pub fn function_path(crate_name: &str, file: &str, function: &str) -> String {
    let file = file.replace('\\', "/");
    let rel = match file.rfind("src/") {
        Some(i) => &file[i + 4..],
        None => file.rsplit('/').next().unwrap_or(&file),
    };
    let rel = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    if matches!(parts.last(), Some(&"mod")) {
        parts.pop();
    }
    if parts.len() == 1 && matches!(parts[0], "main" | "lib") {
        parts.clear();
    }
    // Files under src/bin/ are crates of their own: their name is already the crate name.
    if parts.first() == Some(&"bin") {
        parts.drain(..parts.len().min(2));
        if parts == ["main"] {
            parts.clear();
        }
    }
    let mut path = crate_name.to_string();
    for p in parts {
        path.push_str("::");
        path.push_str(p);
    }
    path.push_str("::");
    path.push_str(function);
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictness_is_set_inclusion_of_admitted_callers() {
        let admin = Rule::any(["admin"]);
        let admin_support = Rule::any(["admin", "support"]);
        assert!(admin.is_at_least_as_strict_as(&admin_support));
        assert!(!admin_support.is_at_least_as_strict_as(&admin));
        assert!(admin.is_at_least_as_strict_as(&Rule::Protected));
        assert!(!Rule::Protected.is_at_least_as_strict_as(&admin));
        assert!(Rule::Protected.is_at_least_as_strict_as(&Rule::Protected));
        assert!(!Rule::any(["a"]).is_at_least_as_strict_as(&Rule::any(["b"])));
    }

    #[test]
    fn describes_rules() {
        assert_eq!(Rule::any(["admin"]).describe(), "role admin");
        assert_eq!(
            Rule::any(["support", "admin"]).describe(),
            "any of admin, support"
        );
        assert_eq!(Rule::Protected.describe(), "any authenticated caller");
    }

    #[test]
    fn paths_from_source_files() {
        assert_eq!(function_path("app", "src/main.rs", "f"), "app::f");
        assert_eq!(function_path("app", "/w/app/src/lib.rs", "f"), "app::f");
        assert_eq!(
            function_path("app", "crates/app/src/api/admin.rs", "stats"),
            "app::api::admin::stats"
        );
        assert_eq!(function_path("app", "src/api/mod.rs", "f"), "app::api::f");
        assert_eq!(function_path("tool", "src/bin/tool.rs", "f"), "tool::f");
        assert_eq!(
            function_path("tool", "src/bin/tool/main.rs", "f"),
            "tool::f"
        );
    }

    #[test]
    fn serialises_with_a_kind_tag() {
        let json = serde_json::to_string(&Rule::any(["b", "a"])).unwrap();
        assert_eq!(json, r#"{"kind":"any","roles":["a","b"]}"#);
        assert_eq!(
            serde_json::to_string(&Rule::Protected).unwrap(),
            r#"{"kind":"protected"}"#
        );
    }
}
