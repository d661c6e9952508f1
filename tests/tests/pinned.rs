//! The user-visible bytes, pinned: for the `api` template (all four Cells), the manifest
//! `cargo cell build` writes, every `.cell/*.lock.json`, and `cargo cell plan` (text and
//! JSON) with no change and with a pending change in every Cell. A refactor that changes
//! none of these bytes passes; any other change shows up as a snapshot diff.
//!
//! Only what legitimately differs between runs is filtered (the temporary folder, the
//! workspace's hash of it, 127.0.0.1 ports, container ids, passwords, timestamps):
//! fingerprints and everything else deterministic stay in the snapshots.

use std::time::Duration;

use cell_e2e::{App, Run, apps_target_dir, docker_available, repo_root};

/// Generous: a first build compiles every dependency of the template.
const BUILD: Duration = Duration::from_secs(1200);
const QUICK: Duration = Duration::from_secs(300);

/// The Cells whose locks the api template writes.
const LOCKS: [&str; 4] = ["postgres", "redis", "auth", "telemetry"];

/// Plain output: not a terminal, and no colour either way.
const PLAIN: [(&str, &str); 1] = [("NO_COLOR", "1")];

#[track_caller]
fn ok(run: (Run, bool)) -> Run {
    let (run, killed) = run;
    assert!(!killed, "timed out:\n{}", run.output());
    run.assert_success();
    run
}

/// The snapshot settings: the filters for what varies between runs, nothing else. Made
/// after the build, so the values of this run (container ids, passwords) are known exactly:
/// only those are replaced, never a pattern that a fingerprint could match.
///
/// None of these occurs in the pinned bytes today; the filters are there so that if a
/// refactor lets one leak into them, the snapshot diff shows a stable placeholder such as
/// `[PORT]` rather than a value that changes on every run.
fn settings(app: &App) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    // This run's secrets and container ids, as the Cells' state files and Docker say.
    let mut exact: Vec<(String, &str)> = Vec::new();
    let state_dir = app.path().join("demo/.cell/state");
    for entry in std::fs::read_dir(&state_dir).expect(".cell/state after the build") {
        let path = entry.unwrap().path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(&text) else {
            continue;
        };
        for (key, value) in fields {
            let Some(value) = value.as_str().filter(|v| v.len() >= 8) else {
                continue;
            };
            if key.contains("password") || key.contains("secret") {
                exact.push((value.to_string(), "[PASSWORD]"));
            } else if key.contains("container") {
                exact.push((value.to_string(), "[CONTAINER]"));
            }
        }
    }
    for id in app.containers() {
        exact.push((id.clone(), "[CONTAINER]"));
        exact.push((id[..12].to_string(), "[CONTAINER]"));
    }
    // Longest first, so a full id is not left with a short id's tail.
    exact.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
    for (value, placeholder) in exact {
        s.add_filter(&regex::escape(&value), placeholder);
    }
    // The temporary folder the app lives in (canonical and as given), and this checkout
    // (the generated Cargo.toml points at its cell-runtime; the shared target dir is in it).
    let app_canonical = app.path().canonicalize().unwrap().display().to_string();
    let app_given = app.path().display().to_string();
    for path in [app_canonical, app_given] {
        s.add_filter(&regex::escape(&path), "[APP]");
    }
    let repo_canonical = repo_root().canonicalize().unwrap().display().to_string();
    let repo_given = repo_root().display().to_string();
    for path in [repo_canonical, repo_given] {
        s.add_filter(&regex::escape(&path), "[REPO]");
    }
    // Container and volume names carry a hash of the workspace's path.
    s.add_filter(r"cell-demo-[0-9a-f]{10}-", "cell-demo-[WORKSPACE]-");
    // Ports Docker publishes on 127.0.0.1 (ephemeral).
    s.add_filter(r"127\.0\.0\.1:[0-9]{2,5}", "127.0.0.1:[PORT]");
    // Timestamps (RFC 3339).
    s.add_filter(
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?",
        "[TIMESTAMP]",
    );
    s
}

/// Every Cell gets a pending change: a column (Postgres), a TTL (Redis), a guard loosened
/// and a guarded route added (Auth), a metric renamed, a histogram added and a span field
/// added (Telemetry).
fn change_every_cell(app: &App) {
    // Postgres: a nullable column.
    app.edit(
        "demo/src/model.rs",
        "    pub created_at: DateTime<Utc>,\n}",
        "    pub created_at: DateTime<Utc>,\n    pub pinned_by: Option<String>,\n}",
    );
    app.edit(
        "demo/src/model.rs",
        "            created_at: Utc::now(),\n",
        "            created_at: Utc::now(),\n            pinned_by: None,\n",
    );
    // Redis: the table's TTL.
    app.edit(
        "demo/src/model.rs",
        "#[Redis::cache(ttl = \"10m\")]",
        "#[Redis::cache(ttl = \"15m\")]",
    );
    // Auth: a guard's roles (loosened: another role may delete) and a new guarded route.
    app.edit(
        "demo/src/routes.rs",
        "#[Auth::require(role = \"admin\")]\nasync fn delete_note(",
        "#[Auth::require(any = [\"admin\", \"moderator\"])]\nasync fn delete_note(",
    );
    app.edit(
        "demo/src/routes.rs",
        "        .route(\"/me\", get(me))\n",
        "        .route(\"/me\", get(me))\n        .route(\"/stats\", get(stats))\n",
    );
    app.edit(
        "demo/src/routes.rs",
        "#[derive(Debug, Deserialize)]\nstruct Page {",
        "/// Admins only.\n#[Auth::require(role = \"admin\")]\n\
         async fn stats(ctx: AuthContext) -> Result<String, AuthError> {\n    \
         let _ = ctx;\n    Ok(\"stats\".into())\n}\n\n\
         #[derive(Debug, Deserialize)]\nstruct Page {",
    );
    // Telemetry: a counter renamed, a histogram added, a span field added.
    app.edit(
        "demo/src/notes.rs",
        "#[Telemetry::metrics(counter = \"note_reads_total\")]",
        "#[Telemetry::metrics(counter = \"note_lookups_total\", histogram = \"note_read_seconds\")]",
    );
    app.edit(
        "demo/src/notes.rs",
        "#[Telemetry::span(name = \"create_note\")]",
        "#[Telemetry::span(name = \"create_note\", fields = [author])]",
    );
}

/// `cargo cell plan` as text and as JSON, stdout only.
fn plans(app: &App) -> (String, String) {
    let text = ok(app.cargo_cell_in("demo", &["plan"], &PLAIN, QUICK)).stdout;
    let json = ok(app.cargo_cell_in("demo", &["plan", "--format", "json"], &PLAIN, QUICK)).stdout;
    serde_json::from_str::<serde_json::Value>(&json)
        .unwrap_or_else(|e| panic!("plan --format json is JSON ({e}):\n{json}"));
    (text, json)
}

/// Snapshots, and the framing of each: insta compares contents with trailing whitespace
/// trimmed, CRLF as LF and (for old snapshots) leading newlines dropped, so the whitespace
/// at both ends and any carriage return are pinned apart, in `pinned_framing_api`.
struct Pins {
    settings: insta::Settings,
    framing: Vec<String>,
}

impl Pins {
    fn pin(&mut self, name: &str, text: &str) {
        self.settings.bind(|| insta::assert_snapshot!(name, text));
        let ws = |c: char| c.is_ascii_whitespace();
        let after_lead = text.trim_start_matches(ws);
        let lead = &text[..text.len() - after_lead.len()];
        let trail = &text[text.trim_end_matches(ws).len()..];
        self.framing.push(format!(
            "{name}: leading {lead:?}, trailing {trail:?}, {} CR, {} lines",
            text.matches('\r').count(),
            text.lines().count(),
        ));
    }
}

#[test]
fn api_template_manifest_locks_and_plans_are_pinned() {
    if !docker_available() {
        return;
    }
    let app = App::empty("pinned");
    ok(app.cargo_cell_in(".", &["new", "demo", "--template", "api"], &PLAIN, QUICK));
    ok(app.cargo_cell_in("demo", &["build"], &PLAIN, BUILD));
    let mut pins = Pins {
        settings: settings(&app),
        framing: Vec::new(),
    };

    // 1. What the build wrote: the manifest (in the target dir the harness gives the app,
    // which `cargo cell manifest` prints too) and every lock.
    let manifest_path = apps_target_dir().join("cell").join("manifest.json");
    let manifest = std::fs::read_to_string(&manifest_path)
        .unwrap_or_else(|e| panic!("{}: {e}", manifest_path.display()));
    let printed = ok(app.cargo_cell_in("demo", &["manifest"], &PLAIN, QUICK)).stdout;
    assert_eq!(
        printed, manifest,
        "`cargo cell manifest` prints the built manifest"
    );
    pins.pin("pinned_manifest_api", &manifest);
    let locks: Vec<(&str, String)> = LOCKS
        .iter()
        .map(|cell| (*cell, app.read(&format!("demo/.cell/{cell}.lock.json"))))
        .collect();
    for (cell, lock) in &locks {
        pins.pin(&format!("pinned_lock_api_{cell}"), lock);
    }

    // 3. No change since the build.
    let (text, json) = plans(&app);
    pins.pin("pinned_plan_api_unchanged_text", &text);
    pins.pin("pinned_plan_api_unchanged_json", &json);

    // 2. A pending change in every Cell.
    change_every_cell(&app);
    let (text, json) = plans(&app);
    let plan: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(plan["changes"], true, "{json}");
    pins.pin("pinned_plan_api_changed_text", &text);
    pins.pin("pinned_plan_api_changed_json", &json);

    // A plan writes no lock.
    for (cell, lock) in &locks {
        assert_eq!(
            &app.read(&format!("demo/.cell/{cell}.lock.json")),
            lock,
            "`cargo cell plan` left .cell/{cell}.lock.json as the build wrote it"
        );
    }

    let framing = pins.framing.join("\n");
    pins.settings
        .bind(|| insta::assert_snapshot!("pinned_framing_api", framing));

    ok(app.cargo_cell_in("demo", &["down", "--volumes"], &[], QUICK));
}
