//! An external Cell end to end: the RabbitMQ Cell of `examples/rabbitmq-cell`, built
//! outside this workspace after the cargo-cell binary, its plugin `cell-rabbitmq` put on
//! PATH, used by `examples/rabbitmq-app`. `cargo cell build` starts the broker, declares the
//! exchanges and queues and writes the lock with the plugin's version; `rabbitmqctl` in the
//! container (an independent client) sees them; `plan`, `status`, `check`, `--without` and
//! `down`, `logs`, `apply` and `test` handle the Cell like any other; cell-external's conformance test passes against
//! the live broker; a plugin whose apply is not its plan gets no lock.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cell_e2e::{App, Run, cargo_cell_bin, repo_root};
use cell_external::conformance::Check;
use cell_external::protocol::EndpointInfo;
use serde_json::{Value, json};

const IMAGE: &str = "cargo-cell/rabbitmq:3";

fn image() -> String {
    std::env::var("CELL_RABBITMQ_IMAGE").unwrap_or_else(|_| IMAGE.into())
}

/// Whether the Docker engine answers (in CI it must). Not `cell_e2e::docker_available`:
/// that one also builds the Postgres test image, which this test does not use.
fn docker_available() -> bool {
    let ok = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the Docker engine is not reachable, and CI=true: end-to-end tests need it");
    }
    if !ok {
        eprintln!("skipping: the Docker engine is not reachable");
    }
    ok
}

/// The local RabbitMQ image, built (cached by recipe) when missing.
fn ensure_image() {
    let present = Command::new("docker")
        .args(["image", "inspect", &image()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        let status = Command::new(repo_root().join("scripts/build-rabbitmq-image"))
            .status()
            .expect("scripts/build-rabbitmq-image runs");
        assert!(status.success(), "scripts/build-rabbitmq-image failed");
    }
}

/// Builds the example Cell's plugin in its own workspace (after cargo-cell was built) and
/// returns a folder holding only `cell-rabbitmq`, for PATH. Into the workspace's target
/// directory, whose compiled dependencies it mostly shares (about 45 s instead of minutes).
fn plugin_bin_dir(tmp: &Path) -> (PathBuf, PathBuf) {
    let target = cargo_cell_bin()
        .parent()
        .and_then(Path::parent)
        .expect("cargo-cell is in <target>/debug");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-q", "--bin", "cell-rabbitmq", "--manifest-path"])
        .arg(repo_root().join("examples/rabbitmq-cell/Cargo.toml"))
        .env("CARGO_TARGET_DIR", target)
        .status()
        .expect("cargo build runs");
    assert!(status.success(), "building the example plugin failed");
    let plugin = target.join("debug/cell-rabbitmq");
    let dir = tmp.join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(&plugin, dir.join("cell-rabbitmq")).unwrap();
    (dir, plugin)
}

fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn cell(app: &App, path: &str, args: &[&str]) -> Run {
    let image = image();
    app.cargo_cell_with(args, &[("PATH", path), ("CELL_RABBITMQ_IMAGE", &image)])
}

/// `rabbitmqctl <args>` in this test's RabbitMQ container.
fn rabbitmqctl(app: &App, args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(["exec", &app.cell_container("rabbitmq"), "rabbitmqctl", "-q"])
        .args(args)
        .output()
        .expect("docker exec rabbitmqctl");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `name<TAB>durable` lines, sorted.
fn queues(app: &App) -> Vec<String> {
    let mut lines: Vec<String> = rabbitmqctl(app, &["list_queues", "name", "durable"])
        .lines()
        .filter(|l| !l.starts_with("name"))
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

fn container_env(id: &str, key: &str) -> String {
    let out = Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{range .Config.Env}}{{println .}}{{end}}",
            id,
        ])
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
        .unwrap_or_else(|| panic!("{key} not in the container's env"))
}

fn host_port(id: &str) -> u16 {
    let out = Command::new("docker")
        .args(["port", id, "15672/tcp"])
        .output()
        .expect("docker port");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no published port: {text}"))
}

/// Text with miette's wrapping undone: its gutter gone, whitespace runs made one space.
fn flat(text: &str) -> String {
    text.replace(['│', '×'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn lock(app: &App) -> Value {
    serde_json::from_str(&app.read(".cell/rabbitmq.lock.json")).expect("rabbitmq lock")
}

#[test]
fn an_external_cell_builds_plans_locks_and_is_handled_by_every_command() {
    if !docker_available() {
        return;
    }
    ensure_image();
    // cargo-cell first, the example Cell after it: the binary knows nothing of RabbitMQ.
    cargo_cell_bin();
    let app = App::copy_example("rabbitmq-app");
    let (bin, plugin) = plugin_bin_dir(app.path());
    let path = path_with(&bin);

    // Build: recorded, started, declared, locked with the plugin's version.
    let build = cell(&app, &path, &["build"]);
    build.assert_success();
    let out = build.output();
    assert!(
        out.contains("record: recorded 1 rabbitmq exchange, 2 rabbitmq queues"),
        "{out}"
    );
    assert!(
        out.contains("rabbitmq: applied 3 to add, 0 to change, 0 to destroy"),
        "{out}"
    );
    assert!(
        out.contains("  + exchange events (topic, durable)"),
        "{out}"
    );
    assert!(
        out.contains("  + queue orders (durable), bound to events by \"order.*\""),
        "{out}"
    );
    let id = app.cell_container("rabbitmq");
    let password = container_env(&id, "RABBITMQ_DEFAULT_PASS");
    assert!(password.len() >= 16);
    assert!(!out.contains(&password), "the password was printed:\n{out}");
    let locked = lock(&app);
    assert_eq!(
        locked["plugin"],
        json!({"name": "cell-rabbitmq", "version": "0.1.0", "protocol": 1})
    );
    assert_eq!(locked["count"], 3, "{locked}");
    assert!(!app.read(".cell/rabbitmq.lock.json").contains(&password));

    // The independent client sees what the code declares.
    assert_eq!(queues(&app), ["mail\tfalse", "orders\ttrue"]);
    let bindings = rabbitmqctl(
        &app,
        &[
            "list_bindings",
            "source_name",
            "destination_name",
            "routing_key",
        ],
    );
    assert!(bindings.contains("events\torders\torder.*"), "{bindings}");

    // As built: nothing to plan; a new queue in the code is planned, as text and JSON.
    let plan = cell(&app, &path, &["plan"]);
    plan.assert_success();
    assert!(
        plan.stdout
            .contains("rabbitmq: No changes. The service matches the code."),
        "{}",
        plan.output()
    );
    app.edit(
        "src/lib.rs",
        "pub const MAIL: &str = \"mail\";",
        "pub const MAIL: &str = \"mail\";\n\n#[RabbitMq::queue(name = \"audit\")]\npub const AUDIT: &str = \"audit\";",
    );
    let plan = cell(&app, &path, &["plan"]);
    plan.assert_success();
    assert!(
        plan.stdout
            .contains("rabbitmq: 1 to add, 0 to change, 0 to destroy\n  + queue audit (durable)\n"),
        "{}",
        plan.output()
    );
    let json_plan = cell(&app, &path, &["plan", "--format", "json"]);
    json_plan.assert_success();
    let doc: Value = serde_json::from_str(&json_plan.stdout).expect("plan JSON");
    assert_eq!(doc["changes"], true, "{doc}");
    assert_eq!(
        doc["cells"]["rabbitmq"]["changes"],
        json!([{"action": "create", "description": "queue audit (durable)", "safety": "safe"}])
    );
    // Planning changed nothing.
    assert_eq!(queues(&app), ["mail\tfalse", "orders\ttrue"]);

    // A plugin whose apply answers another plan's fingerprint: reported, no lock written.
    let broken = app.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    let wrapper = broken.join("cell-rabbitmq");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n# The real plugin, its apply answer's fingerprint rewritten.\n\"{}\" \"$@\" | sed -u 's/\"applied\":\"[0-9a-f]*\"/\"applied\":\"0000000000000000\"/'\n",
            plugin.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let before = app.read(".cell/rabbitmq.lock.json");
    let bad = cell(&app, &path_with(&broken), &["build"]);
    bad.assert_failure();
    assert!(
        bad.stderr.contains("cell::external::inconsistent")
            && flat(&bad.stderr).contains("is inconsistent: it applied the plan 0000000000000000"),
        "{}",
        bad.output()
    );
    assert_eq!(app.read(".cell/rabbitmq.lock.json"), before);

    // The real plugin: the new queue is declared (the broken one already made it: the plan
    // says nothing is left) and locked.
    let build = cell(&app, &path, &["build"]);
    build.assert_success();
    assert_eq!(queues(&app), ["audit\ttrue", "mail\tfalse", "orders\ttrue"]);
    assert_eq!(lock(&app)["count"], 4);
    let logs = cell(&app, &path, &["logs", "rabbitmq"]);
    logs.assert_success();
    assert!(
        logs.output().contains("Server startup complete"),
        "{}",
        logs.output()
    );

    // A change that loses messages is refused by build, applied by `apply --allow-destructive`.
    app.edit(
        "src/lib.rs",
        "name = \"mail\", durable = false",
        "name = \"mail\"",
    );
    let refused = cell(&app, &path, &["build"]);
    refused.assert_failure();
    assert!(
        refused.stderr.contains("cell::external::destructive"),
        "{}",
        refused.output()
    );
    // The documented exit code of a refusal, as for the built-in Cells.
    assert_eq!(
        refused.status.code(),
        Some(i32::from(cargo_cell::exit::Exit::Refused.code())),
        "{}",
        refused.output()
    );
    let apply = cell(&app, &path, &["apply", "--yes", "--allow-destructive"]);
    apply.assert_success();
    assert!(
        apply
            .stdout
            .contains("  -/+ queue mail (durable) (its messages are lost) (destructive)"),
        "{}",
        apply.output()
    );
    assert_eq!(queues(&app), ["audit\ttrue", "mail\ttrue", "orders\ttrue"]);
    let check = cell(&app, &path, &["check"]);
    check.assert_success();
    assert!(
        check
            .stdout
            .contains("rabbitmq: code and lock agree (4 items)"),
        "{}",
        check.output()
    );

    // `cargo cell test` runs the app's tests with the Cell's URL.
    let test = cell(&app, &path, &["test", "--", "--", "--nocapture"]);
    test.assert_success();
    assert!(
        test.output()
            .contains("rabbitmq-app: broker at http://cell:***@127.0.0.1:"),
        "{}",
        test.output()
    );

    // Status: running, ready, locked; the URL variable is the Cell's.
    let status = cell(&app, &path, &["status"]);
    status.assert_success();
    let line = status
        .stdout
        .lines()
        .find(|l| l.starts_with("rabbitmq "))
        .unwrap_or_else(|| panic!("no rabbitmq line:\n{}", status.output()));
    assert!(line.contains("running, ready"), "{line}");
    assert!(line.contains("locked (4 items)"), "{line}");
    let status = cell(&app, &path, &["status", "--format", "json"]);
    let doc: Value = serde_json::from_str(&status.stdout).expect("status JSON");
    let entry = doc["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .find(|c| c["cell"] == "rabbitmq")
        .unwrap_or_else(|| panic!("no rabbitmq Cell in {doc}"));
    assert_eq!(entry["env"], "CELL_RABBITMQ_URL", "{entry}");
    assert!(!status.stdout.contains(&password), "{}", status.stdout);

    // The conformance test, against the live broker (its own queue; the app's are kept).
    let port = host_port(&id);
    let report = Check::new([plugin.display().to_string()])
        .cell("rabbitmq")
        .manifest(json!({"queue": [{"name": "conformance", "durable": true}]}))
        .endpoint(EndpointInfo {
            url: format!("http://cell:{password}@127.0.0.1:{port}/"),
            port,
            env: [("RABBITMQ_DEFAULT_PASS".to_string(), password.clone())].into(),
        })
        .run();
    assert!(report.passed(), "{report}");
    assert!(queues(&app).contains(&"conformance\ttrue".to_string()));

    // cargo-cell refuses a plugin of another protocol version, naming both, and bounds a
    // plugin that hangs by CELL_PLUGIN_TIMEOUT.
    for (script, code, words) in [
        (
            "echo '{\"v\":[2],\"name\":\"cell-rabbitmq\",\"version\":\"9.0.0\"}'; cat >/dev/null",
            "cell::external::version",
            "speaks protocol version [2], this cargo-cell speaks [1]",
        ),
        (
            "echo '{\"v\":[1],\"name\":\"cell-rabbitmq\",\"version\":\"9.0.0\"}'; exec sleep 600",
            "cell::external::timeout",
            "did not answer `describe` within 2 s",
        ),
    ] {
        let dir = app.path().join(code.replace(':', "_"));
        std::fs::create_dir_all(&dir).unwrap();
        let wrapper = dir.join("cell-rabbitmq");
        std::fs::write(&wrapper, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(
            &wrapper,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let start = std::time::Instant::now();
        let image = image();
        let run = app.cargo_cell_with(
            &["plan"],
            &[
                ("PATH", &path_with(&dir)),
                ("CELL_RABBITMQ_IMAGE", &image),
                ("CELL_PLUGIN_TIMEOUT", "2"),
            ],
        );
        run.assert_failure();
        assert!(
            run.stderr.contains(code) && flat(&run.stderr).contains(words),
            "{}",
            run.output()
        );
        assert!(start.elapsed().as_secs() < 60, "{:?}", start.elapsed());
    }

    // Down removes it; a build without it starts nothing and still builds.
    cell(&app, &path, &["down"]).assert_success();
    assert!(app.cell_containers("rabbitmq").is_empty());
    let without = cell(&app, &path, &["build", "--without", "rabbitmq"]);
    without.assert_success();
    assert!(
        app.cell_containers("rabbitmq").is_empty(),
        "{}",
        without.output()
    );
    let status = cell(&app, &path, &["status"]);
    let line = status
        .stdout
        .lines()
        .find(|l| l.starts_with("rabbitmq "))
        .unwrap_or_else(|| panic!("no rabbitmq line:\n{}", status.output()));
    assert!(line.contains("absent"), "{line}");
}
