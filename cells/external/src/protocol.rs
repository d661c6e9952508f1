//! The Cell protocol's messages, version 1: one JSON object per line, over the plugin's
//! stdin (requests) and stdout (the hello, then one answer per request). Specified in
//! `docs/cell-protocol.md`; these types are that specification's source of truth.
//!
//! Versioning follows Terraform's plugin protocol: the major version is negotiated at start
//! (the plugin's hello lists the versions it speaks, cargo-cell picks the highest it speaks
//! too, or refuses naming both lists), a released version is never edited, and a minor
//! revision only adds optional fields (every field added after 1.0 has a default, and unknown
//! fields are ignored by both sides).

use std::collections::BTreeMap;

use cell_core::plan::{Action, Safety};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The protocol versions this crate speaks, highest last.
pub const VERSIONS: &[u32] = &[1];

/// The argument cargo-cell starts a plugin with, so a plugin run by hand can say how to use
/// it (as cargo's credential providers get `--cargo-plugin`).
pub const PLUGIN_FLAG: &str = "--cell-plugin";

/// The first line a plugin writes: the protocol versions it speaks, its name and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Protocol major versions, any order.
    pub v: Vec<u32>,
    /// The plugin's name (`cell-rabbitmq`), for messages and the lock.
    pub name: String,
    /// The plugin's own version (`0.1.0`), recorded in the lock.
    pub version: String,
}

/// The highest version both sides speak.
pub fn negotiate(ours: &[u32], theirs: &[u32]) -> Option<u32> {
    ours.iter().copied().filter(|v| theirs.contains(v)).max()
}

/// The verbs of version 1.
pub mod verb {
    pub const DESCRIBE: &str = "describe";
    pub const PLAN: &str = "plan";
    pub const APPLY: &str = "apply";
}

/// What every request starts with: `{"v": 1, "verb": "plan", ...}`; the rest is the verb's
/// body, flattened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The negotiated version.
    pub v: u32,
    pub verb: String,
    #[serde(flatten)]
    pub body: T,
}

/// What every request carries about the Cell: its name and its settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CellInfo {
    /// The Cell's name (`rabbitmq`): the manifest's key, the labels', the lock's.
    pub cell: String,
    /// `[workspace.metadata.cell.<name>]`, without cargo-cell's own keys (`command`,
    /// `args`); `{}` when absent.
    #[serde(default)]
    pub settings: serde_json::Value,
}

/// `describe`: the container as data, its readiness probe, its URL.
pub type DescribeRequest = CellInfo;

/// The answer to `describe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Describe {
    pub container: Container,
    pub readiness: Readiness,
    /// The URL `run` and `test` export as `CELL_<NAME>_URL`, with `{port}` (the published
    /// host port) and `{env.NAME}` (a variable of the container, a secret included)
    /// replaced: `http://admin:{env.RABBITMQ_DEFAULT_PASS}@127.0.0.1:{port}/`.
    pub url: String,
}

/// The container, as data. cargo-cell, not the plugin, talks to Docker: it labels the
/// container, publishes `port` on 127.0.0.1 (ephemeral), mounts a named volume at
/// `data_path`, and keeps the secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    /// The image when neither the image variable nor `[...] image` chooses another.
    pub image: String,
    /// The variable that chooses another image; default `CELL_<NAME>_IMAGE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_env: Option<String>,
    /// How to get the image where nothing can be pulled, for the help of a missing image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_hint: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Variables cargo-cell fills with a random secret, kept across restarts (the data
    /// volume was initialised with it) and never printed.
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// The port the service listens on inside the container.
    pub port: u16,
    /// Where the named volume is mounted.
    pub data_path: String,
}

/// How cargo-cell tells the service is ready; each try is bounded, the whole wait is
/// cargo-cell's one policy (`CELL_READY_TIMEOUT`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Readiness {
    /// A TCP connect to the published port (weak: docker-proxy accepts before the service).
    Tcp,
    /// `GET http://127.0.0.1:<port><path>` answers `status`, with the URL's user and
    /// password as basic auth when it has them.
    Http {
        path: String,
        #[serde(default = "ok_status")]
        status: u16,
    },
    /// A command run in the container (`docker exec`) exits 0.
    Exec { cmd: Vec<String> },
}

fn ok_status() -> u16 {
    200
}

/// The running service, as cargo-cell found it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointInfo {
    /// The URL, placeholders replaced (secrets included: the pipe is private).
    pub url: String,
    /// The published port on 127.0.0.1.
    pub port: u16,
    /// The container's variables the plugin described (secrets included).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// `plan`: what the code asks (`manifest`, the Cell's section of `manifest.json`), against
/// the plugin's part of the lock and, when given, the live service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanRequest {
    #[serde(flatten)]
    pub cell: CellInfo,
    /// The Cell's section of the manifest: `{"<kind>": [<recorded item>, ...]}`, each list
    /// sorted and without duplicates.
    pub manifest: serde_json::Value,
    /// The `lock` of the last apply's `.cell/<name>.lock.json`; `null` for none.
    #[serde(default)]
    pub lock: Option<serde_json::Value>,
    /// The running service; `null` for `cargo cell check` (code against the lock only).
    #[serde(default)]
    pub endpoint: Option<EndpointInfo>,
}

/// One change of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub action: Action,
    /// What `cargo cell plan` prints after the sign: `queue orders (durable)`.
    pub description: String,
    #[serde(default = "safe")]
    pub safety: Safety,
}

fn safe() -> Safety {
    Safety::Safe
}

impl Change {
    pub fn new(action: Action, description: impl Into<String>) -> Change {
        Change {
            action,
            description: description.into(),
            safety: Safety::Safe,
        }
    }

    pub fn with_safety(mut self, safety: Safety) -> Change {
        self.safety = safety;
        self
    }
}

/// The answer to `plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Names this plan: equal plans have equal fingerprints. `apply` carries it back.
    pub fingerprint: String,
}

impl Plan {
    /// A plan whose fingerprint is [`fingerprint`] of its changes.
    pub fn new(changes: Vec<Change>) -> Plan {
        let fingerprint = fingerprint(&changes);
        Plan {
            changes,
            fingerprint,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// The first 16 hex digits of the SHA-256 of the changes' JSON.
pub fn fingerprint(changes: &[Change]) -> String {
    let bytes = serde_json::to_vec(changes).expect("changes serialise");
    hex::encode(&Sha256::digest(&bytes)[..8])
}

/// `apply`: the plan's inputs again, and the fingerprint of the plan cargo-cell showed. A
/// plugin whose plan of these inputs has another fingerprint answers `stale_plan` and
/// changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApplyRequest {
    #[serde(flatten)]
    pub plan: PlanRequest,
    pub fingerprint: String,
}

/// The answer to `apply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    /// The fingerprint of the plan it applied: the request's.
    pub applied: String,
    /// What cargo-cell writes as the `lock` of `.cell/<name>.lock.json` once a plan right
    /// after this apply is empty. No secrets.
    pub lock: serde_json::Value,
    /// How many things the lock holds, for `status` (`locked (3 items)`).
    #[serde(default)]
    pub count: usize,
}

/// Every answer: `{"ok": ...}` or `{"error": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer<T> {
    Ok(T),
    Error(ErrorBody),
}

/// A typed error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub kind: ErrorKind,
    /// What happened, one sentence.
    pub message: String,
    /// What to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The plugin does not know this verb (a newer cargo-cell asked).
    UnsupportedVerb,
    /// The settings or the recorded declarations are wrong.
    InvalidConfig,
    /// The service cannot be reached or refused.
    Unavailable,
    /// `apply`'s fingerprint is not the plugin's plan of those inputs.
    StalePlan,
    /// Any other failure; a kind a newer plugin sends is read as this.
    #[serde(other)]
    Other,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::UnsupportedVerb => "unsupported_verb",
            ErrorKind::InvalidConfig => "invalid_config",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::StalePlan => "stale_plan",
            ErrorKind::Other => "other",
        }
    }
}

impl ErrorBody {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            kind,
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> ErrorBody {
        self.help = Some(help.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn negotiation_takes_the_highest_common_version() {
        assert_eq!(negotiate(&[1], &[1]), Some(1));
        assert_eq!(negotiate(&[1, 2], &[2, 1, 3]), Some(2));
        assert_eq!(negotiate(&[1], &[2, 3]), None);
        assert_eq!(negotiate(&[1], &[]), None);
    }

    #[test]
    fn hello_and_requests_are_single_json_objects() {
        let hello: Hello =
            serde_json::from_str(r#"{"v":[1],"name":"cell-x","version":"0.1.0"}"#).unwrap();
        assert_eq!(hello.v, [1]);
        let req = Envelope {
            v: 1,
            verb: verb::PLAN.into(),
            body: PlanRequest {
                cell: CellInfo {
                    cell: "x".into(),
                    settings: json!({}),
                },
                manifest: json!({"queue": [{"name": "a"}]}),
                lock: None,
                endpoint: None,
            },
        };
        let line = serde_json::to_string(&req).unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&line).unwrap(),
            json!({"v": 1, "verb": "plan", "cell": "x", "settings": {},
                   "manifest": {"queue": [{"name": "a"}]}, "lock": null, "endpoint": null})
        );
        let back: Envelope<PlanRequest> = serde_json::from_str(&line).unwrap();
        assert_eq!(back.body, req.body);
    }

    #[test]
    fn a_minor_revision_only_adds_fields_both_sides_ignore() {
        // A newer plugin's answer with a field this version does not know.
        let plan: Answer<Plan> = serde_json::from_value(json!({"ok": {
            "changes": [{"action": "create", "description": "queue a", "colour": "green"}],
            "fingerprint": "f", "estimate": 3}}))
        .unwrap();
        let Answer::Ok(plan) = plan else { panic!() };
        assert_eq!(plan.changes[0].safety, Safety::Safe);
        // An error kind from a newer plugin.
        let e: Answer<Plan> =
            serde_json::from_value(json!({"error": {"kind": "quota", "message": "m"}})).unwrap();
        assert_eq!(e, Answer::Error(ErrorBody::new(ErrorKind::Other, "m")));
    }

    #[test]
    fn errors_are_typed() {
        let e = ErrorBody::new(ErrorKind::UnsupportedVerb, "no `lock` here").with_help("h");
        assert_eq!(
            serde_json::to_value(Answer::<()>::Error(e)).unwrap(),
            json!({"error": {"kind": "unsupported_verb", "message": "no `lock` here", "help": "h"}})
        );
        for kind in [
            ErrorKind::InvalidConfig,
            ErrorKind::Unavailable,
            ErrorKind::StalePlan,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
        }
    }

    #[test]
    fn fingerprints_name_the_changes() {
        let a = Plan::new(vec![Change::new(Action::Create, "queue a")]);
        let b = Plan::new(vec![Change::new(Action::Create, "queue a")]);
        let c = Plan::new(vec![Change::new(Action::Create, "queue b")]);
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_ne!(a.fingerprint, c.fingerprint);
        assert_eq!(a.fingerprint.len(), 16);
        assert_ne!(Plan::new(vec![]).fingerprint, a.fingerprint);
    }

    #[test]
    fn describe_reads_with_defaults() {
        let d: Describe = serde_json::from_value(json!({
            "container": {"image": "img", "port": 80, "data_path": "/d"},
            "readiness": {"kind": "http", "path": "/health"},
            "url": "http://127.0.0.1:{port}/"
        }))
        .unwrap();
        assert_eq!(
            d.readiness,
            Readiness::Http {
                path: "/health".into(),
                status: 200
            }
        );
        assert!(d.container.env.is_empty() && d.container.secrets.is_empty());
    }
}
