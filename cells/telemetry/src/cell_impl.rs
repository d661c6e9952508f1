//! [`TelemetryCell`]: what the Telemetry Cell tells cargo-cell without Docker. Its name, lock,
//! endpoint variable and manifest section; its plan (the code's metrics and spans against the
//! committed lock); and `cargo cell check`.

use std::path::Path;

use cell_core::{Cell, CellError, Checked, LockState, Manifest, Section, Workspace};

use crate::declare::FnDecl;
use crate::error::fail;
use crate::lock::{Lock, LockFile as _, Plan};
use crate::plan::TelemetryPlan;
use crate::section::TelemetrySection;
use crate::{CELL_NAME, LOCK_FILE};

/// The variable `cargo cell run` / `test` put Prometheus's URL in.
pub const URL_ENV: &str = "CELL_PROMETHEUS_URL";

/// The runtime's variable for where the application serves `/metrics`; `run` and `test` set
/// it when `[workspace.metadata.cell.telemetry] metrics = "..."` says where Prometheus
/// scrapes.
pub const METRICS_ADDR_ENV: &str = "CELL_METRICS_ADDR";

/// The Telemetry Cell: a Prometheus container that scrapes the running application, and the
/// lock of every metric and span the code declares.
#[derive(Debug, Clone, Copy, Default)]
pub struct TelemetryCell;

impl TelemetryCell {
    /// The declarations of `manifest` (none when it has no section of this Cell).
    pub fn decls(manifest: &Manifest) -> &[FnDecl] {
        manifest
            .section::<TelemetrySection>(CELL_NAME)
            .map(|s| s.functions.as_slice())
            .unwrap_or(&[])
    }

    /// The lock the code calls for; two declarations of one metric that differ are an error.
    pub fn desired(decls: &[FnDecl]) -> Result<Lock, CellError> {
        Lock::from_decls(decls).map_err(|c| {
            fail(
                c.to_string(),
                "one metric name has one type and one set of labels: rename one of them, or give both the same labels",
            )
        })
    }

    /// `cargo cell plan`'s telemetry part: the metrics and spans added, removed and changed
    /// since the lock (none yet: everything is added).
    pub fn plan_of(ws: &Workspace, decls: &[FnDecl]) -> Result<TelemetryPlan, CellError> {
        let old = Lock::read(&ws.lock_path(LOCK_FILE))?.unwrap_or_default();
        let desired = Self::desired(decls)?;
        Ok(TelemetryPlan {
            plan: Plan::between(&old, &desired),
            desired,
        })
    }

    /// `[workspace.metadata.cell.telemetry] metrics`: where the application serves /metrics,
    /// when the workspace says.
    pub fn metrics_addr(ws: &Workspace) -> Option<String> {
        ws.cell_setting(CELL_NAME, "metrics")
    }
}

/// What differs between the committed lock (`None`: there is none) and the code's, in the
/// plan's words; `None` when they are the same.
pub fn difference(committed: Option<&Lock>, desired: &Lock) -> Option<String> {
    let empty = Lock::default();
    let committed = committed.unwrap_or(&empty);
    if committed == desired {
        return None;
    }
    let plan = Plan::between(committed, desired);
    Some(if plan.is_empty() {
        // Same metrics and spans: another function updates or opens one of them.
        "the functions that update the metrics or open the spans changed".to_string()
    } else {
        plan.summary()
    })
}

impl Cell for TelemetryCell {
    fn name(&self) -> &'static str {
        CELL_NAME
    }

    fn lock_file(&self) -> &'static str {
        LOCK_FILE
    }

    fn url_env(&self) -> &'static str {
        URL_ENV
    }

    fn new_section(&self) -> Box<dyn Section> {
        Box::new(TelemetrySection::default())
    }

    fn read_section(
        &self,
        manifest: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Box<dyn Section>, serde_json::Error> {
        Ok(Box::new(crate::section::read(manifest)?))
    }

    fn lock_state(&self, path: &Path) -> LockState {
        LockState::of::<Lock>(path, |l| (l.metrics.len(), "metrics"))
    }

    /// The code's lock against the committed one, byte for byte in effect: a metric renamed,
    /// a label or span field added, or a metric moved to another function is a problem.
    fn check_offline(&self, ws: &Workspace, manifest: &Manifest) -> Result<Checked, CellError> {
        let decls = Self::decls(manifest);
        let path = ws.lock_path(LOCK_FILE);
        let committed = Lock::read(&path)?;
        if decls.is_empty() && committed.is_none() {
            return Ok(Checked::default());
        }
        let desired = Self::desired(decls)?;
        Ok(match difference(committed.as_ref(), &desired) {
            Some(summary) => Checked {
                problems: vec![format!(
                    "metrics and spans differ from .cell/{LOCK_FILE}: {summary}"
                )],
                agreed: None,
            },
            None => {
                let n = desired.metrics.len();
                Checked {
                    problems: Vec::new(),
                    agreed: Some(format!(
                        "telemetry: code and lock agree ({n} metric{})",
                        if n == 1 { "" } else { "s" }
                    )),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::{MetricDecl, MetricKind};
    use cell_core::lockfile::write_if_changed;
    use miette::Diagnostic as _;

    fn counter(function: &str, name: &str) -> serde_json::Value {
        serde_json::to_value(FnDecl {
            function: function.into(),
            span: None,
            metrics: vec![MetricDecl {
                name: name.into(),
                kind: MetricKind::Counter,
                labels: vec![],
            }],
        })
        .unwrap()
    }

    fn manifest(items: &[serde_json::Value]) -> Manifest {
        let cells: [&dyn Cell; 1] = [&TelemetryCell];
        let mut m = Manifest::new(cells);
        for item in items {
            let fragment = cell_core::manifest::Fragment {
                cell: "telemetry".into(),
                kind: "fn".into(),
                value: item.clone(),
            };
            m.add(fragment, "shop").unwrap();
        }
        m
    }

    fn workspace() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        (dir, ws)
    }

    fn commit_lock(ws: &Workspace, m: &Manifest) {
        let lock = TelemetryCell::desired(TelemetryCell::decls(m)).unwrap();
        write_if_changed(&ws.lock_path(LOCK_FILE), &lock.to_bytes()).unwrap();
    }

    #[test]
    fn names_and_lock_state() {
        let (_dir, ws) = workspace();
        let cell = TelemetryCell;
        assert_eq!(cell.name(), "telemetry");
        assert_eq!(cell.lock_file(), "telemetry.lock.json");
        assert_eq!(cell.url_env(), "CELL_PROMETHEUS_URL");
        let path = ws.lock_path(LOCK_FILE);
        assert_eq!(cell.lock_state(&path), LockState::Absent);
        commit_lock(&ws, &manifest(&[counter("shop::pay", "pays_total")]));
        assert_eq!(cell.lock_state(&path).to_string(), "locked (1 metric)");
        std::fs::write(&path, r#"{"version": 9}"#).unwrap();
        assert_eq!(cell.lock_state(&path), LockState::TooNew);
        std::fs::write(&path, "nope").unwrap();
        assert_eq!(cell.lock_state(&path), LockState::Invalid);
    }

    #[test]
    fn the_manifest_keeps_the_telemetry_key_and_reads_back() {
        let m = manifest(&[
            counter("shop::z", "z_total"),
            counter("shop::a", "a_total"),
            counter("shop::z", "z_total"),
        ]);
        assert!(m.declares("telemetry"));
        assert_eq!(
            m.summary(),
            "no Cell attributes",
            "as before: not in the summary"
        );
        let bytes = m.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with("{\n  \"telemetry\": [\n    {\n      \"function\": \"shop::a\""),
            "{text}"
        );
        let cells: [&dyn Cell; 1] = [&TelemetryCell];
        let back = Manifest::from_slice(&bytes, cells).unwrap();
        assert_eq!(TelemetryCell::decls(&back), TelemetryCell::decls(&m));
        assert_eq!(TelemetryCell::decls(&back).len(), 2);
        assert_eq!(String::from_utf8(manifest(&[]).to_bytes()).unwrap(), "{}\n");
    }

    #[test]
    fn plan_adds_everything_before_the_first_lock_and_nothing_after() {
        let (_dir, ws) = workspace();
        let m = manifest(&[counter("shop::pay", "pays_total")]);
        let plan = TelemetryCell::plan_of(&ws, TelemetryCell::decls(&m)).unwrap();
        assert_eq!(
            plan.plan.render(),
            "telemetry:\n  + metric pays_total (counter)\n"
        );
        commit_lock(&ws, &m);
        let plan = TelemetryCell::plan_of(&ws, TelemetryCell::decls(&m)).unwrap();
        assert!(plan.plan.is_empty());
    }

    #[test]
    fn a_metric_declared_twice_differently_is_an_error() {
        let mut other = counter("shop::retry", "pays_total");
        other["metrics"][0]["type"] = "histogram".into();
        let m = manifest(&[counter("shop::pay", "pays_total"), other]);
        let err = TelemetryCell::desired(TelemetryCell::decls(&m)).unwrap_err();
        assert_eq!(err.code().unwrap().to_string(), "cell::telemetry");
        assert!(
            err.to_string()
                .contains("metric `pays_total` is declared differently"),
            "{err}"
        );
        assert_eq!(
            err.help().unwrap().to_string(),
            "one metric name has one type and one set of labels: rename one of them, or give both the same labels"
        );
    }

    /// Bug (b): `cargo cell check` ignored the telemetry lock, so a metric renamed in code
    /// passed the check.
    #[test]
    fn check_reports_a_metric_renamed_in_code() {
        let (_dir, ws) = workspace();
        let cell = TelemetryCell;
        commit_lock(&ws, &manifest(&[counter("shop::pay", "pays_total")]));
        let renamed = manifest(&[counter("shop::pay", "payments_total")]);
        let checked = cell.check_offline(&ws, &renamed).unwrap();
        assert_eq!(
            checked.problems,
            [
                "metrics and spans differ from .cell/telemetry.lock.json: 1 to add, 0 to change, 1 to destroy"
            ]
        );
        assert_eq!(checked.agreed, None);
    }

    #[test]
    fn check_agrees_with_the_lock_the_code_calls_for() {
        let (_dir, ws) = workspace();
        let cell = TelemetryCell;
        let m = manifest(&[counter("shop::pay", "pays_total")]);
        commit_lock(&ws, &m);
        let checked = cell.check_offline(&ws, &m).unwrap();
        assert!(checked.problems.is_empty(), "{:?}", checked.problems);
        assert_eq!(
            checked.agreed.as_deref(),
            Some("telemetry: code and lock agree (1 metric)")
        );
        let two = manifest(&[
            counter("shop::pay", "pays_total"),
            counter("shop::a", "a_total"),
        ]);
        commit_lock(&ws, &two);
        assert_eq!(
            cell.check_offline(&ws, &two).unwrap().agreed.as_deref(),
            Some("telemetry: code and lock agree (2 metrics)")
        );
    }

    #[test]
    fn check_sees_every_difference_from_the_lock() {
        let (_dir, ws) = workspace();
        let cell = TelemetryCell;
        // No lock yet, but the code declares metrics.
        let m = manifest(&[counter("shop::pay", "pays_total")]);
        let checked = cell.check_offline(&ws, &m).unwrap();
        assert_eq!(
            checked.problems,
            [
                "metrics and spans differ from .cell/telemetry.lock.json: 1 to add, 0 to change, 0 to destroy"
            ]
        );
        // The same metric, updated by another function: the lock's bytes differ.
        commit_lock(&ws, &m);
        let moved = manifest(&[counter("shop::charge", "pays_total")]);
        let checked = cell.check_offline(&ws, &moved).unwrap();
        assert_eq!(
            checked.problems,
            [
                "metrics and spans differ from .cell/telemetry.lock.json: the functions that update the metrics or open the spans changed"
            ]
        );
        // Everything removed from the code, the lock still lists it.
        let checked = cell.check_offline(&ws, &manifest(&[])).unwrap();
        assert_eq!(
            checked.problems,
            [
                "metrics and spans differ from .cell/telemetry.lock.json: 0 to add, 0 to change, 1 to destroy"
            ]
        );
    }

    #[test]
    fn check_says_nothing_for_a_workspace_without_the_cell() {
        let (_dir, ws) = workspace();
        let checked = TelemetryCell.check_offline(&ws, &manifest(&[])).unwrap();
        assert!(checked.problems.is_empty());
        assert_eq!(checked.agreed, None);
    }

    #[test]
    fn check_refuses_a_lock_from_a_newer_tool() {
        let (_dir, ws) = workspace();
        let path = ws.lock_path(LOCK_FILE);
        write_if_changed(&path, br#"{"version": 9}"#).unwrap();
        let err = TelemetryCell
            .check_offline(&ws, &manifest(&[counter("shop::pay", "pays_total")]))
            .unwrap_err();
        assert_eq!(err.code().unwrap().to_string(), "cell::lock::too_new");
    }
}
