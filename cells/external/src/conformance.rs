//! A conformance test a Cell author runs against their plugin:
//!
//! ```no_run
//! let report = cell_external::conformance::Check::new(["target/debug/cell-mine"])
//!     .manifest(serde_json::json!({"queue": [{"name": "orders"}]}))
//!     .run();
//! assert!(report.passed(), "{report}");
//! ```
//!
//! It starts the plugin as cargo-cell does and checks, in order: the hello (JSON, a
//! version this crate speaks), `describe` (a container and a readiness probe), an unknown
//! verb (answered `unsupported_verb`, and the plugin keeps serving), a line that is not JSON
//! (answered with an error, not a crash), `plan` twice (the same fingerprint), and, when
//! [`Check::apply`] is on, `apply` (it carries the plan's fingerprint, its lock has no
//! secret) followed by a `plan` that must be empty. Every read is bounded by the timeout.
//! The first failure ends the run.

use std::fmt;
use std::time::Duration;

use crate::protocol::{
    Applied, ApplyRequest, CellInfo, Describe, EndpointInfo, ErrorKind, Plan, PlanRequest, verb,
};
use crate::session::{ProtocolError, Session};

/// What to check, and against what.
#[derive(Debug, Clone)]
pub struct Check {
    pub command: Vec<String>,
    pub cell: String,
    pub settings: serde_json::Value,
    pub manifest: serde_json::Value,
    pub lock: Option<serde_json::Value>,
    pub endpoint: Option<EndpointInfo>,
    /// Apply the plan and plan again (needs the live service, or a plugin without one).
    pub apply: bool,
    pub timeout: Duration,
}

impl Check {
    pub fn new<S: Into<String>>(command: impl IntoIterator<Item = S>) -> Check {
        Check {
            command: command.into_iter().map(Into::into).collect(),
            cell: "conformance".into(),
            settings: serde_json::json!({}),
            manifest: serde_json::json!({}),
            lock: None,
            endpoint: None,
            apply: true,
            timeout: Duration::from_secs(10),
        }
    }

    pub fn cell(mut self, name: impl Into<String>) -> Check {
        self.cell = name.into();
        self
    }

    pub fn manifest(mut self, manifest: serde_json::Value) -> Check {
        self.manifest = manifest;
        self
    }

    pub fn endpoint(mut self, endpoint: EndpointInfo) -> Check {
        self.endpoint = Some(endpoint);
        self
    }

    pub fn apply(mut self, apply: bool) -> Check {
        self.apply = apply;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Check {
        self.timeout = timeout;
        self
    }

    /// Runs every check; the report lists what passed and the first failure.
    pub fn run(&self) -> Report {
        let mut report = Report::default();
        if let Err(failure) = self.steps(&mut report) {
            report.failure = Some(failure);
        }
        report
    }

    fn request(&self, lock: Option<serde_json::Value>) -> PlanRequest {
        PlanRequest {
            cell: CellInfo {
                cell: self.cell.clone(),
                settings: self.settings.clone(),
            },
            manifest: self.manifest.clone(),
            lock,
            endpoint: self.endpoint.clone(),
        }
    }

    fn steps(&self, report: &mut Report) -> Result<(), Failure> {
        let mut s =
            Session::start(&self.command, self.timeout).map_err(|e| Failure::new("hello", e))?;
        report.pass(
            "hello",
            format!(
                "{} {} speaks {:?}, version {} negotiated",
                s.hello().name,
                s.hello().version,
                s.hello().v,
                s.version()
            ),
        );

        let info = CellInfo {
            cell: self.cell.clone(),
            settings: self.settings.clone(),
        };
        let describe: Describe = s
            .call(verb::DESCRIBE, &info)
            .map_err(|e| Failure::new("describe", e))?;
        if describe.container.image.is_empty() || describe.container.port == 0 {
            return Err(Failure::text(
                "describe",
                "the container needs an image and a port",
            ));
        }
        report.pass(
            "describe",
            format!(
                "image {}, port {}, readiness {:?}",
                describe.container.image, describe.container.port, describe.readiness
            ),
        );

        match s.call::<serde_json::Value>("conformance-unknown-verb", &info) {
            Err(ProtocolError::Refused { error, .. })
                if error.kind == ErrorKind::UnsupportedVerb =>
            {
                report.pass("unknown verb", "answered unsupported_verb".to_string())
            }
            Err(e) => return Err(Failure::new("unknown verb", e)),
            Ok(v) => {
                return Err(Failure::text(
                    "unknown verb",
                    format!("answered ok ({v}) to a verb it cannot know"),
                ));
            }
        }

        s.send_line("{ this is not json", "a malformed request")
            .map_err(|e| Failure::new("malformed request", e))?;
        let line = s
            .read_line("the answer to a malformed request")
            .map_err(|e| Failure::new("malformed request", e))?;
        match serde_json::from_str::<crate::protocol::Answer<serde_json::Value>>(&line) {
            Ok(crate::protocol::Answer::Error(_)) => {
                report.pass("malformed request", "answered with an error".to_string())
            }
            _ => {
                return Err(Failure::text(
                    "malformed request",
                    format!("answered {line:?}, not an error"),
                ));
            }
        }

        let first: Plan = s
            .call(verb::PLAN, &self.request(self.lock.clone()))
            .map_err(|e| Failure::new("plan", e))?;
        let again: Plan = s
            .call(verb::PLAN, &self.request(self.lock.clone()))
            .map_err(|e| Failure::new("plan", e))?;
        if first.fingerprint != again.fingerprint {
            return Err(Failure::text(
                "plan",
                format!(
                    "two plans of the same inputs have different fingerprints ({} and {})",
                    first.fingerprint, again.fingerprint
                ),
            ));
        }
        report.pass(
            "plan",
            format!(
                "{} changes, fingerprint {} (stable)",
                first.changes.len(),
                first.fingerprint
            ),
        );
        if !self.apply {
            return Ok(());
        }

        let applied: Applied = s
            .call(
                verb::APPLY,
                &ApplyRequest {
                    plan: self.request(self.lock.clone()),
                    fingerprint: first.fingerprint.clone(),
                },
            )
            .map_err(|e| Failure::new("apply", e))?;
        if applied.applied != first.fingerprint {
            return Err(Failure::text(
                "apply",
                format!(
                    "the apply differs from its plan: it applied {}, the plan was {}",
                    applied.applied, first.fingerprint
                ),
            ));
        }
        if let Some(secret) = crate::secret_in(&applied.lock, self.endpoint.as_ref(), &describe) {
            return Err(Failure::text(
                "apply",
                format!("its lock holds the secret {secret}"),
            ));
        }
        report.pass("apply", format!("applied {}", applied.applied));

        let after: Plan = s
            .call(verb::PLAN, &self.request(Some(applied.lock)))
            .map_err(|e| Failure::new("plan after apply", e))?;
        if !after.is_empty() {
            let left: Vec<&str> = after
                .changes
                .iter()
                .map(|c| c.description.as_str())
                .collect();
            return Err(Failure::text(
                "plan after apply",
                format!(
                    "the apply differs from its plan: a plan right after it still has {} changes ({})",
                    left.len(),
                    left.join("; ")
                ),
            ));
        }
        report.pass("plan after apply", "empty".to_string());
        Ok(())
    }
}

/// One failed check.
#[derive(Debug)]
pub struct Failure {
    pub check: &'static str,
    pub message: String,
    /// The protocol error, when the failure was one.
    pub error: Option<Box<ProtocolError>>,
}

impl Failure {
    fn new(check: &'static str, error: ProtocolError) -> Failure {
        Failure {
            check,
            message: error.to_string(),
            error: Some(Box::new(error)),
        }
    }

    fn text(check: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            check,
            message: message.into(),
            error: None,
        }
    }
}

/// What [`Check::run`] found.
#[derive(Debug, Default)]
pub struct Report {
    pub passed: Vec<(&'static str, String)>,
    pub failure: Option<Failure>,
}

impl Report {
    fn pass(&mut self, check: &'static str, detail: String) {
        self.passed.push((check, detail));
    }

    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (check, detail) in &self.passed {
            writeln!(f, "ok    {check}: {detail}")?;
        }
        if let Some(failure) = &self.failure {
            writeln!(f, "FAIL  {}: {}", failure.check, failure.message)?;
        }
        Ok(())
    }
}
