//! What the code declares, as recorded in the manifest: one [`AuditDecl`] per
//! `#[Audit::log(...)]`.

use serde::{Deserialize, Serialize};

/// `#[Audit::log(event = "user_deleted", sensitive_fields = ["email"], retention = "7y",
/// immutable = true)]` on a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDecl {
    /// `{crate}::{module}::{fn}`, as the Auth Cell names functions.
    pub function: String,
    pub event: String,
    /// The arguments recorded as they are, in the function's order.
    #[serde(default)]
    pub args: Vec<String>,
    /// The arguments recorded only as keyed hashes, in the function's order.
    #[serde(default)]
    pub sensitive: Vec<String>,
    /// As written: `7y`, `90d`.
    pub retention: String,
}

impl AuditDecl {
    /// The name in the lock and the plan: the function.
    pub fn name(&self) -> String {
        self.function.clone()
    }

    /// `user_deleted, args id, sensitive email, kept 7y`.
    pub fn describe(&self) -> String {
        let mut s = format!("event {}", self.event);
        if !self.args.is_empty() {
            s.push_str(&format!(", args {}", self.args.join(" ")));
        }
        if !self.sensitive.is_empty() {
            s.push_str(&format!(", sensitive {}", self.sensitive.join(" ")));
        }
        s.push_str(&format!(", kept {}", self.retention));
        s
    }

    /// What makes `self` (the code) audit less than `was` (the lock): a sensitive field now
    /// recorded in the clear or not at all, a shorter retention, another event name (records
    /// searched under the old name stop appearing).
    pub fn loosened_from(&self, was: &AuditDecl) -> Vec<String> {
        let mut why = Vec::new();
        if self.event != was.event {
            why.push(format!("event renamed from {}", was.event));
        }
        for f in &was.sensitive {
            if self.args.contains(f) {
                why.push(format!("{f} is no longer hashed"));
            } else if !self.sensitive.contains(f) {
                why.push(format!("{f} is no longer recorded"));
            }
        }
        for a in &was.args {
            if !self.args.contains(a) && !self.sensitive.contains(a) {
                why.push(format!("{a} is no longer recorded"));
            }
        }
        match (
            retention_days(&self.retention),
            retention_days(&was.retention),
        ) {
            (Ok(now), Ok(before)) if now < before => why.push(format!(
                "kept {} instead of {}",
                self.retention, was.retention
            )),
            _ => {}
        }
        why
    }
}

/// Days in a retention (`90d`, `12w`, `18mo`, `7y`). A month counts 31 days and a year 366,
/// so pruning never drops a record before its time.
pub fn retention_days(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u32 = n.parse().map_err(|_| retention_help(text))?;
    let per = match unit {
        "d" => 1,
        "w" => 7,
        "mo" => 31,
        "y" => 366,
        _ => return Err(retention_help(text)),
    };
    if n == 0 {
        return Err(format!(
            "a retention of `{text}` would keep no record\n\nhelp: write how long records are kept, such as `retention = \"7y\"`"
        ));
    }
    n.checked_mul(per)
        .ok_or_else(|| format!("the retention `{text}` is too long"))
}

fn retention_help(text: &str) -> String {
    format!(
        "`{text}` is not a retention\n\nhelp: write a number and a unit: `90d` (days), `12w` (weeks), `18mo` (months), `7y` (years)"
    )
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn audit(function: &str, event: &str, args: &[&str], sensitive: &[&str]) -> AuditDecl {
        AuditDecl {
            function: function.into(),
            event: event.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            sensitive: sensitive.iter().map(|s| s.to_string()).collect(),
            retention: "7y".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::audit;
    use super::*;

    #[test]
    fn retentions_parse_generously() {
        assert_eq!(retention_days("90d"), Ok(90));
        assert_eq!(retention_days("2w"), Ok(14));
        assert_eq!(retention_days("18mo"), Ok(18 * 31));
        assert_eq!(retention_days("7y"), Ok(7 * 366));
        assert!(
            retention_days("7 years")
                .unwrap_err()
                .contains("help: write a number and a unit")
        );
        assert!(
            retention_days("1m").is_err(),
            "minutes or months: ambiguous, refused"
        );
        assert!(retention_days("0d").unwrap_err().contains("keep no record"));
    }

    #[test]
    fn less_auditing_is_loosened() {
        let was = audit("app::delete", "user_deleted", &["id"], &["email"]);
        assert!(was.loosened_from(&was).is_empty());
        let mut more = was.clone();
        more.sensitive.push("ssn".into());
        assert!(more.loosened_from(&was).is_empty());
        let clear = audit("app::delete", "user_deleted", &["id", "email"], &[]);
        assert_eq!(clear.loosened_from(&was), ["email is no longer hashed"]);
        let mut short = audit("app::delete", "deleted", &[], &["email"]);
        short.retention = "90d".into();
        assert_eq!(
            short.loosened_from(&was),
            [
                "event renamed from user_deleted",
                "id is no longer recorded",
                "kept 90d instead of 7y"
            ]
        );
        assert_eq!(
            was.describe(),
            "event user_deleted, args id, sensitive email, kept 7y"
        );
    }
}
