//! `cargo cell build` when the infrastructure cannot be had: no Docker socket, an image that is
//! neither local nor pullable, a Cell that never becomes ready. Each ends within its timeout
//! with a miette report whose help names the fix; the reports are snapshot-tested (paths,
//! ids and the engine's own wording normalised).

use std::process::{Command, Stdio};
use std::time::Duration;

use cell_e2e::{App, Run, docker_available};

/// An image from the cached Postgres base whose process never accepts connections.
const NEVER_READY_IMAGE: &str = "cell-e2e/never-ready:1";
/// Record is already warm when the scenarios run: each only has to fail fast.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(120);

fn never_ready_image() -> &'static str {
    let present = Command::new("docker")
        .args(["image", "inspect", NEVER_READY_IMAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        let dockerfile = format!(
            "FROM {}\nENTRYPOINT [\"sh\", \"-c\", \"echo this image never accepts connections; exec sleep infinity\"]\nCMD []\n",
            cell_e2e::test_image()
        );
        let mut child = Command::new("docker")
            .args(["build", "-q", "-t", NEVER_READY_IMAGE, "-"])
            // The classic builder uses the local base image without asking a registry.
            .env("DOCKER_BUILDKIT", "0")
            .stdin(Stdio::piped())
            .spawn()
            .expect("docker build runs");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(dockerfile.as_bytes())
            .unwrap();
        assert!(
            child.wait().unwrap().success(),
            "building {NEVER_READY_IMAGE}"
        );
    }
    NEVER_READY_IMAGE
}

/// The miette report: stderr from the error code line on.
fn report(run: &Run) -> String {
    let start = run
        .stderr
        .lines()
        .position(|l| l.starts_with("cell::"))
        .unwrap_or_else(|| panic!("no miette report in:\n{}", run.stderr));
    run.stderr
        .lines()
        .skip(start)
        .collect::<Vec<_>>()
        .join("\n")
}

#[track_caller]
fn failing_build(app: &App, env: &[(&str, &str)]) -> String {
    let mut env = env.to_vec();
    env.push(("NO_COLOR", "1"));
    let (run, killed) = app.cargo_cell_in(".", &["build"], &env, SCENARIO_TIMEOUT);
    assert!(
        !killed,
        "`cargo cell build` did not end within {SCENARIO_TIMEOUT:?}:\n{}",
        run.output()
    );
    run.assert_failure();
    report(&run)
}

fn settings(app: &App) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    let root = app.path().canonicalize().unwrap().display().to_string();
    s.add_filter(&regex::escape(&root), "[APP]");
    s.add_filter(&regex::escape(&app.path().display().to_string()), "[APP]");
    // Container and volume names carry a hash of the workspace path.
    s.add_filter(
        r"cell-[A-Za-z0-9_.-]+?-[0-9a-f]{10}-postgres",
        "cell-[WORKSPACE]-postgres",
    );
    s
}

#[test]
fn build_fails_fast_with_a_fix_when_infrastructure_is_missing() {
    if !docker_available() {
        return;
    }
    let image = never_ready_image();
    let app = App::copy_example("users");
    // Warm the record step, so each scenario below is about its Cell only.
    let (warm, _) = app.cargo_cell_in(".", &["manifest"], &[], Duration::from_secs(1200));
    warm.assert_success();
    let s = settings(&app);

    // 1. No Docker socket.
    let out = failing_build(&app, &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]);
    assert!(out.contains("systemctl start docker"), "{out}");
    s.bind(|| insta::assert_snapshot!("docker_socket_missing", out));

    // 2. An image that is not local and cannot be pulled. The engine's own message (which
    // names its registry and resolver) is not ours to snapshot.
    let out = failing_build(&app, &[("CELL_POSTGRES_IMAGE", "some/missing:tag")]);
    assert!(out.contains("docker pull some/missing:tag"), "{out}");
    assert!(out.contains("CELL_POSTGRES_IMAGE"), "{out}");
    let mut s2 = s.clone();
    s2.add_filter(r"(?s)╰─▶ .*?\n  help:", "╰─▶ [ENGINE MESSAGE]\n  help:");
    s2.bind(|| insta::assert_snapshot!("image_missing_and_unpullable", out));

    // 3. A Cell that never becomes ready, with a short readiness timeout.
    let out = failing_build(
        &app,
        &[("CELL_POSTGRES_IMAGE", image), ("CELL_READY_TIMEOUT", "5")],
    );
    assert!(
        out.contains("this image never accepts connections"),
        "{out}"
    );
    assert!(out.contains("cargo cell logs postgres"), "{out}");
    let mut s3 = s.clone();
    // How the refused connection surfaces (closed, reset, EOF, wrapped once or twice) is the
    // network's business: the whole cause chain is one placeholder.
    s3.add_filter(
        r"(?s)  [├╰]─▶ .*?\n  help:",
        "  ╰─▶ [CONNECTION ERROR]\n  help:",
    );
    s3.bind(|| insta::assert_snapshot!("cell_never_ready", out));
}
