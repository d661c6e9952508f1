//! `cargo cell build` when the infrastructure cannot be had: no Docker socket, an image that is
//! neither local nor pullable, a Cell that never becomes ready. Each ends within its timeout
//! with a miette report whose help names the fix; the reports are snapshot-tested (paths,
//! ids and the engine's own wording normalised).

use std::process::{Command, Stdio};
use std::time::Duration;

use cell_e2e::{App, Run, docker_available, never_ready_image};

/// Record is already warm when the scenarios run: each only has to fail fast.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(120);

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

/// The user `nobody` runs `cargo-cell` with.
const UNPRIVILEGED: &str = "65534";

/// A Unix socket this test binds itself, owned by root with mode 0600, for machines whose
/// Docker socket other users may use: connecting to it as `nobody` is refused the same way.
struct PrivateSocket {
    _listener: std::os::unix::net::UnixListener,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

fn private_socket() -> PrivateSocket {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // The folder is open, so what refuses the connection is the socket's own mode.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("docker.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    PrivateSocket {
        _listener: listener,
        _dir: dir,
        path,
    }
}

/// The Docker socket exists but refuses this user: the report says so and names the fixes
/// (the `docker` group, `sudo`, rootless Docker). The tests run as root, so `cargo-cell` runs
/// as `nobody` (setpriv, from util-linux) against the real socket when it is closed to other
/// users, else against a root-only socket of the test's own.
#[test]
fn permission_denied_on_the_docker_socket_names_the_fix() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !docker_available() {
        return;
    }
    if std::fs::metadata("/proc/self").map(|m| m.uid()).ok() != Some(0) {
        eprintln!("skipped: running as another user needs root");
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: setpriv (util-linux) is not installed");
        return;
    }
    let real = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(std::path::PathBuf::from))
        .unwrap_or_else(|| "/var/run/docker.sock".into());
    let real_mode = std::fs::metadata(&real)
        .unwrap_or_else(|e| panic!("{}: {e}", real.display()))
        .mode();
    let own;
    let socket = if real_mode & 0o006 == 0 {
        real
    } else {
        eprintln!(
            "{} is open to other users (mode {:o}): using a root-only socket",
            real.display(),
            real_mode & 0o777
        );
        own = private_socket();
        own.path.clone()
    };
    eprintln!("refusing socket: {}", socket.display());

    // A workspace `nobody` may read, with the executable copied in (the build's own target
    // folder may be closed to other users).
    let app = App::empty("socket-permission");
    let root = app.path();
    app.write(
        "Cargo.toml",
        "[package]\nname = \"socket-permission\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    std::fs::create_dir_all(root.join("src")).unwrap();
    app.write("src/lib.rs", "");
    std::fs::create_dir_all(root.join(".cell/state")).unwrap();
    let bin = root.join("cargo-cell");
    std::fs::copy(cell_e2e::cargo_cell_bin(), &bin).unwrap();

    let command = |as_nobody: bool| {
        let mut cmd = if as_nobody {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={UNPRIVILEGED}"),
                &format!("--regid={UNPRIVILEGED}"),
                "--clear-groups",
            ])
            .arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        cmd.current_dir(root)
            .args(["cell", "status"])
            .env("DOCKER_HOST", format!("unix://{}", socket.display()))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    };
    // `nobody` cannot run cargo (the toolchain is root's): the workspace's metadata is
    // cached first, as root, offline. The cache is keyed by the same environment.
    let first = command(false).arg("--offline").output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    for entry in walk(root) {
        let mode = if entry.is_dir() || entry == bin {
            0o755
        } else {
            0o644
        };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    let out = command(true).output().unwrap();
    let run = Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: Duration::ZERO,
    };
    run.assert_failure();
    let out = report(&run);
    assert!(out.starts_with("cell::docker::permission_denied"), "{out}");
    for fix in ["usermod -aG docker", "sudo", "DOCKER_HOST"] {
        assert!(out.contains(fix), "the help names `{fix}`:\n{out}");
    }
    let mut s = settings(&app);
    s.add_filter(&regex::escape(&socket.display().to_string()), "[SOCKET]");
    s.bind(|| insta::assert_snapshot!("docker_socket_permission_denied", out));
}

/// `dir` and everything below it.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
