//! What the code declares, as recorded in the manifest: one [`LimitDecl`] per
//! `#[RateLimit::...]` attribute.

use serde::{Deserialize, Serialize};

use crate::rate::{faster, format_period};

/// Whose requests a limit counts together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `per_user`: the `AuthContext`'s subject.
    User,
    /// `per_ip`: the client address (`ConnectInfo<SocketAddr>`, or an `IpAddr`/`SocketAddr`
    /// argument).
    Ip,
    /// `per_key(key = "arg.field")`: a value of the arguments.
    Key,
    /// `global`: every caller together.
    Global,
}

impl Scope {
    /// The attribute's name: `per_user`, `per_ip`, `per_key`, `global`.
    pub fn attribute(self) -> &'static str {
        match self {
            Scope::User => "per_user",
            Scope::Ip => "per_ip",
            Scope::Key => "per_key",
            Scope::Global => "global",
        }
    }
}

/// What a limit does while the Redis Cell cannot be reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fail {
    /// The default: each process limits on its own (`governor`), with the same rate: the
    /// limit holds per replica, not across them.
    #[default]
    Open,
    /// Refuse every request (503 with `Retry-After: 1`) until Redis is back.
    Closed,
}

impl Fail {
    pub fn as_str(self) -> &'static str {
        match self {
            Fail::Open => "open",
            Fail::Closed => "closed",
        }
    }
}

/// `#[RateLimit::per_user(100, per = "1m", burst = 100, fail = "open")]` on a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitDecl {
    /// `{crate}::{module}::{fn}` as the Auth Cell names functions.
    pub function: String,
    pub scope: Scope,
    /// `per_key`: the key as written, `arg.field`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Requests per period.
    pub limit: u64,
    pub per_secs: u64,
    /// Requests admitted at once (default: the limit).
    pub burst: u64,
    #[serde(default)]
    pub fail: Fail,
}

impl LimitDecl {
    /// The name in the lock and the plan: `app::search/per_user`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.function, self.scope.attribute())
    }

    /// `100 per 1m, burst 100, fail open` (and `key body.tenant`).
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} per {}, burst {}, fail {}",
            self.limit,
            format_period(self.per_secs),
            self.burst,
            self.fail.as_str()
        );
        if let Some(k) = &self.key {
            s.push_str(&format!(", key {k}"));
        }
        s
    }

    /// Whether `self` admits a request that `was` refused: a faster rate, a larger burst, or
    /// failing open where it failed closed.
    pub fn looser_than(&self, was: &LimitDecl) -> bool {
        faster((self.limit, self.per_secs), (was.limit, was.per_secs))
            || self.burst > was.burst
            || (self.fail == Fail::Open && was.fail == Fail::Closed)
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn limit(function: &str, scope: Scope, limit: u64, per_secs: u64) -> LimitDecl {
        LimitDecl {
            function: function.into(),
            scope,
            key: None,
            limit,
            per_secs,
            burst: limit,
            fail: Fail::Open,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_describe() {
        let mut d = fixtures::limit("app::search", Scope::Key, 100, 60);
        d.key = Some("body.tenant".into());
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"function": "app::search", "scope": "key", "key": "body.tenant",
                "limit": 100, "per_secs": 60, "burst": 100, "fail": "open"})
        );
        assert_eq!(serde_json::from_value::<LimitDecl>(json).unwrap(), d);
        assert_eq!(d.name(), "app::search/per_key");
        assert_eq!(
            d.describe(),
            "100 per 1m, burst 100, fail open, key body.tenant"
        );
    }

    #[test]
    fn looser_means_someone_is_admitted_who_was_refused() {
        let was = fixtures::limit("app::f", Scope::User, 100, 60);
        let mut now = was.clone();
        assert!(!now.looser_than(&was));
        now.limit = 101;
        assert!(now.looser_than(&was));
        now.limit = 100;
        now.per_secs = 30;
        assert!(
            now.looser_than(&was),
            "100 per 30s is faster than 100 per 1m"
        );
        now.per_secs = 120;
        assert!(!now.looser_than(&was));
        let mut burst = was.clone();
        burst.burst = 200;
        assert!(burst.looser_than(&was));
        let mut closed = was.clone();
        closed.fail = Fail::Closed;
        assert!(!closed.looser_than(&was));
        assert!(was.looser_than(&closed));
    }
}
