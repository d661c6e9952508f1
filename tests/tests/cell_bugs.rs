//! Regression tests, end to end, for bugs of the Cells besides Postgres: `cargo cell check`
//! and the telemetry lock, `--without postgres` and the other Cells, a disabled Redis Cell in
//! `plan` and `apply`, the permissions of `.cell/state/`, and the Telemetry Cell's help
//! when its image is missing.
//!
//! Every test copies `tests/fixtures/cell-bugs` (a table, a memoized function, a guard and a
//! counter, one module each) and keeps the modules it needs by rewriting `src/lib.rs`: the
//! copies share the compiled dependencies, so a build compiles that one crate only.

use std::path::Path;

use cell_e2e::{App, docker_available};

const IMAGE_ENV: &str = "CELL_PROMETHEUS_IMAGE";

/// The fixture with only these modules of it (`cache`, `guards`, `metrics`, `table`).
fn app_with(modules: &[&str]) -> App {
    let app = App::copy_fixture("cell-bugs");
    let lib: String = modules.iter().map(|m| format!("pub mod {m};\n")).collect();
    app.write("src/lib.rs", &lib);
    app
}

/// Bug: `cargo cell check` compared the Postgres, Redis and Auth locks, never Telemetry's. A
/// metric renamed in code after the build must fail the check, naming the lock or the metric.
#[test]
fn check_fails_when_a_metric_differs_from_the_telemetry_lock() {
    if !docker_available() {
        return;
    }
    let app = app_with(&["metrics"]);
    app.cargo_cell(&["build"]).assert_success();
    let lock = app.read(".cell/telemetry.lock.json");
    assert!(lock.contains("bug_orders_total"), "{lock}");
    // Code and locks agree right after the build.
    app.cargo_cell(&["check"]).assert_success();

    app.edit(
        "src/metrics.rs",
        "counter = \"bug_orders_total\"",
        "counter = \"bug_orders_renamed_total\"",
    );
    // The recording sees the new name; only the check ignores it.
    let manifest = app.cargo_cell(&["manifest"]);
    manifest.assert_success();
    assert!(
        manifest.stdout.contains("bug_orders_renamed_total"),
        "{}",
        manifest.output()
    );
    let check = app.cargo_cell(&["check"]);
    assert!(
        !check.success(),
        "`cargo cell check` passes with a metric the telemetry lock does not have:\n{}",
        check.output()
    );
    let out = check.unwrapped();
    assert!(
        out.contains("telemetry.lock")
            || out.contains("bug_orders_total")
            || out.contains("bug_orders_renamed_total"),
        "the check names the telemetry lock or the metric:\n{}",
        check.output()
    );
}

/// Bug: `--without postgres` skipped record, up, plan and apply of every Cell. An app with
/// guards and no table must still get its Auth lock.
#[test]
fn build_without_postgres_still_writes_the_auth_lock() {
    if !docker_available() {
        return;
    }
    let app = app_with(&["guards"]);
    let build = app.cargo_cell(&["build", "--without", "postgres"]);
    build.assert_success();
    let path = app.path().join(".cell/auth.lock.json");
    assert!(
        path.is_file(),
        "`cargo cell build --without postgres` wrote no .cell/auth.lock.json:\n{}",
        build.output()
    );
    let lock: serde_json::Value = serde_json::from_str(&app.read(".cell/auth.lock.json")).unwrap();
    assert_eq!(lock["roles"], serde_json::json!(["admin"]), "{lock}");
    let guards = lock["guards"].as_object().expect("guards");
    assert!(
        guards
            .iter()
            .any(|(path, rule)| path.ends_with("::admin_only")
                && *rule == serde_json::json!({"kind": "any", "roles": ["admin"]})),
        "{lock}"
    );
}

/// Bug: dev `plan` and `apply` started (and planned) the Redis Cell even when it was
/// disabled, by `[workspace.metadata.cell] disabled` or by `--without redis`.
#[test]
fn plan_and_apply_leave_a_disabled_redis_cell_alone() {
    if !docker_available() {
        return;
    }
    let app = app_with(&["cache"]);
    let manifest = app.read("Cargo.toml");
    app.write(
        "Cargo.toml",
        &manifest.replace(
            "[workspace]\n",
            "[workspace]\n\n[workspace.metadata.cell]\ndisabled = [\"redis\"]\n",
        ),
    );

    for args in [&["plan"][..], &["apply", "--yes"][..]] {
        let run = app.cargo_cell(args);
        run.assert_success();
        assert_eq!(
            app.cell_containers("redis"),
            Vec::<String>::new(),
            "`cargo cell {}` with `disabled = [\"redis\"]` started the Redis Cell:\n{}",
            args.join(" "),
            run.output()
        );
        assert!(
            !run.output().contains("+ memoize"),
            "`cargo cell {}` plans the disabled Redis Cell:\n{}",
            args.join(" "),
            run.output()
        );
        assert!(
            !app.path().join(".cell/redis.lock.json").exists(),
            "{}",
            run.output()
        );
    }

    // The same with the switch instead of the metadata.
    app.write("Cargo.toml", &manifest);
    for args in [
        &["plan", "--without", "redis"][..],
        &["apply", "--yes", "--without", "redis"][..],
    ] {
        let run = app.cargo_cell(args);
        run.assert_success();
        assert_eq!(
            app.cell_containers("redis"),
            Vec::<String>::new(),
            "`cargo cell {}` started the Redis Cell:\n{}",
            args.join(" "),
            run.output()
        );
    }
}

/// Bug: `.cell/state/` (the dev Cells' passwords and secrets) was written with the default
/// permissions. After a build of every Cell the folder must be 0700 and each file in it 0600.
#[test]
fn state_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("cell-bugs");
    app.cargo_cell(&["build"]).assert_success();
    let state = app.path().join(".cell/state");
    let mut files = Vec::new();
    let mut wrong = Vec::new();
    fn walk(dir: &Path, files: &mut Vec<String>, wrong: &mut Vec<String>) {
        let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
        if mode != 0o700 {
            wrong.push(format!("{} is {mode:o}, not 700", dir.display()));
        }
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                walk(&path, files, wrong);
                continue;
            }
            files.push(path.display().to_string());
            let mode = meta.permissions().mode() & 0o777;
            if mode != 0o600 {
                wrong.push(format!("{} is {mode:o}, not 600", path.display()));
            }
        }
    }
    walk(&state, &mut files, &mut wrong);
    for cell in ["postgres", "redis", "auth"] {
        assert!(
            state.join(format!("{cell}.json")).is_file(),
            "{cell}.json in {files:?}"
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Bug: the Telemetry Cell's image-unavailable help named `CELL_TELEMETRY_IMAGE` (nothing
/// reads it; the Cell reads `CELL_PROMETHEUS_IMAGE`) and `scripts/build-images` (which does
/// not build Prometheus; `scripts/build-prometheus-image` does).
#[test]
fn a_missing_prometheus_image_names_the_variable_the_cell_reads() {
    if !docker_available() {
        return;
    }
    let app = app_with(&["metrics"]);
    // Not local, and nothing can be pulled here.
    let up = app.cargo_cell_with(
        &["up", "telemetry"],
        &[
            (IMAGE_ENV, "cargo-cell/absent-prometheus:0"),
            ("NO_COLOR", "1"),
        ],
    );
    up.assert_failure();
    let out = up.unwrapped();
    assert!(
        out.contains("cargo-cell/absent-prometheus:0"),
        "the report names the image:\n{}",
        up.output()
    );
    assert!(
        out.contains(IMAGE_ENV) && !out.contains("CELL_TELEMETRY_IMAGE"),
        "the help names {IMAGE_ENV}, the variable the Cell reads:\n{}",
        up.output()
    );
    assert!(
        out.contains("scripts/build-prometheus-image"),
        "the help names the script that builds a Prometheus image:\n{}",
        up.output()
    );
}

/// Bug: readiness was four hand-written loops with four timeouts (Postgres 90 s and
/// `CELL_READY_TIMEOUT`, Redis and Prometheus a fixed 60 s, the token service 30 s) and three
/// error shapes. Every Cell now waits as `CELL_READY_TIMEOUT` says and fails with the same
/// `cell::unhealthy` report, naming the variable that chooses its image.
#[test]
fn every_cell_waits_by_one_policy_and_fails_with_one_report() {
    if !docker_available() {
        return;
    }
    let image = cell_e2e::never_ready_image();
    let app = app_with(&["table"]);
    for (cell, image_env) in [("redis", "CELL_REDIS_IMAGE"), ("telemetry", IMAGE_ENV)] {
        let start = std::time::Instant::now();
        let run = app.cargo_cell_with(
            &["up", cell],
            &[
                (image_env, image),
                ("CELL_READY_TIMEOUT", "3"),
                ("NO_COLOR", "1"),
            ],
        );
        run.assert_failure();
        let report = run.unwrapped();
        assert!(report.contains("cell::unhealthy"), "{cell}: {report}");
        assert!(
            report.contains(&format!("the {cell} Cell did not become ready within 3 s")),
            "{cell}: {report}"
        );
        assert!(report.contains(image_env), "{cell}: {report}");
        assert!(
            report.contains("this image never accepts connections"),
            "{cell}: {report}"
        );
        // Not a wall-clock assertion on the tool's speed: a loop that ignored the variable
        // waited a minute, far beyond any slowness of this machine.
        assert!(
            start.elapsed() < std::time::Duration::from_secs(50),
            "{cell}: `up` took {:?} with CELL_READY_TIMEOUT=3",
            start.elapsed()
        );
    }
}

/// Bug: the two confirmation prompts accepted different answers (`apply` only `yes`, `reset`
/// `y`, `Y`, `yes` and `Yes`). Both ask `[y/N]` and take the same answers: here `y` on a
/// terminal applies a change.
#[test]
fn apply_on_a_terminal_takes_the_answers_reset_takes() {
    if !docker_available() {
        return;
    }
    let app = app_with(&["table"]);
    app.cargo_cell(&["build"]).assert_success();
    app.edit(
        "src/table.rs",
        "pub title: String,",
        "pub title: String,\n    pub note: Option<String>,",
    );
    // `script` gives the command a terminal; the answer comes on its standard input.
    let line = format!("{} cell apply", cell_e2e::cargo_cell_bin().display());
    let mut cmd = app.program(Path::new("script"));
    cmd.args(["-qec", &line, "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("script runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"y\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("[y/N]"), "{text}");
    assert!(!text.contains("cancelled"), "{text}");
    let lock = app.read(".cell/postgres.lock.json");
    assert!(
        lock.contains("\"note\""),
        "the change was applied and locked:\n{lock}"
    );
}
