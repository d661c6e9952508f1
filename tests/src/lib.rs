//! The end-to-end harness: a temporary copy of an example app, `cargo cell` and `cargo` run
//! on it for real, and a Postgres client that is not ours (`psql` inside the Cell's
//! container) to look at the result.
//!
//! Every container and volume a test creates carries a label unique to that test
//! (`CELL_TEST_LABEL`), and is removed by that label when the [`App`] is dropped, even when
//! the test panics. Nothing else is touched. All apps share one cargo target directory so
//! dependencies are compiled once per suite.
//!
//! Apps are used one at a time (a file lock, so it holds across test processes too): cargo
//! gives a path package the same unit hash wherever it lies, so two copies of one example
//! built at once in a shared target directory would race on each other's fingerprints.

pub mod otlp;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const TEST_LABEL_KEY: &str = "dev.cell.test";
pub const DEFAULT_TEST_IMAGE: &str = "cargo-cell/postgres:15";
pub const DEFAULT_REDIS_TEST_IMAGE: &str = "cargo-cell/redis:7";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repo")
        .to_path_buf()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// An image from the cached Postgres base whose process never answers any protocol: for
/// Cells that must not become ready (built once, from the local base, without a registry).
pub fn never_ready_image() -> &'static str {
    const IMAGE: &str = "cell-e2e/never-ready:1";
    let present = Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        let dockerfile = format!(
            "FROM {}\nENTRYPOINT [\"sh\", \"-c\", \"echo this image never accepts connections; exec sleep infinity\"]\nCMD []\n",
            test_image()
        );
        let mut child = Command::new("docker")
            .args(["build", "-q", "-t", IMAGE, "-"])
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
        assert!(child.wait().unwrap().success(), "building {IMAGE}");
    }
    IMAGE
}

/// The workspace's target directory (honours CARGO_TARGET_DIR).
fn target_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Command::new(cargo())
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--manifest-path",
            ])
            .arg(repo_root().join("Cargo.toml"))
            .output()
            .expect("cargo metadata runs");
        let meta: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
        PathBuf::from(meta["target_directory"].as_str().expect("target_directory"))
    })
}

/// The `cargo-cell` binary, built once per test process.
pub fn cargo_cell_bin() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let status = Command::new(cargo())
            .args([
                "build",
                "-q",
                "-p",
                "cargo-cell",
                "--bin",
                "cargo-cell",
                "--manifest-path",
            ])
            .arg(repo_root().join("Cargo.toml"))
            .status()
            .expect("cargo build runs");
        assert!(status.success(), "building cargo-cell failed");
        target_dir().join("debug").join("cargo-cell")
    })
}

/// The target directory shared by every example app of the suite.
pub fn apps_target_dir() -> PathBuf {
    target_dir().join("e2e-apps")
}

pub fn test_image() -> String {
    std::env::var("CELL_POSTGRES_IMAGE").unwrap_or_else(|_| DEFAULT_TEST_IMAGE.into())
}

pub fn redis_test_image() -> String {
    std::env::var("CELL_REDIS_IMAGE").unwrap_or_else(|_| DEFAULT_REDIS_TEST_IMAGE.into())
}

/// Whether the Docker engine answers. In CI a missing engine fails the test; elsewhere the
/// test is skipped with a message.
pub fn docker_available() -> bool {
    let ok = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("the Docker engine is not reachable, and CI=true: end-to-end tests need it");
        }
        eprintln!("skipping: the Docker engine is not reachable");
        return false;
    }
    ensure_image();
    true
}

/// The test image must exist: build it (cached by tag) when it does not.
fn ensure_image() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let image = test_image();
        let present = Command::new("docker")
            .args(["image", "inspect", &image])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !present {
            let status = Command::new(repo_root().join("scripts/build-images"))
                .status()
                .expect("scripts/build-images runs");
            assert!(status.success(), "scripts/build-images failed");
        }
    });
}

/// A temporary copy of an example app, with its own Cells.
pub struct App {
    pub dir: tempfile::TempDir,
    pub label: String,
    /// Held while the app exists: see the module's docs.
    _turn: std::fs::File,
}

#[derive(Debug)]
pub struct Run {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    fn from(output: Output, elapsed: Duration) -> Run {
        Run {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed,
        }
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Run {
        assert!(
            self.success(),
            "command failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn assert_failure(&self) -> &Run {
        assert!(
            !self.success(),
            "command should have failed:\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// [`Run::output`] as one line: miette wraps its reports at 80 columns (also after a
    /// hyphen), so a message is found whatever its length.
    pub fn unwrapped(&self) -> String {
        let text = self.output();
        let mut out = String::with_capacity(text.len());
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        if let Some(first) = lines.next() {
            out.push_str(first);
        }
        for line in lines {
            let line = line.trim_start_matches('│').trim_start();
            if !out.ends_with('-') {
                out.push(' ');
            }
            out.push_str(line);
        }
        out
    }
}

impl App {
    /// Copies `examples/<name>` to a temporary folder, pointing its path dependencies at
    /// this repository.
    pub fn copy_example(name: &str) -> App {
        App::copy_tree_of(&repo_root().join("examples").join(name), name)
    }

    /// Copies `tests/fixtures/<name>`, like [`App::copy_example`].
    pub fn copy_fixture(name: &str) -> App {
        App::copy_tree_of(&repo_root().join("tests").join("fixtures").join(name), name)
    }

    /// An empty temporary folder (for `cargo cell new`), with the same cleanup by label.
    pub fn empty(name: &str) -> App {
        let turn = take_turn();
        let dir = tempfile::Builder::new()
            .prefix(&format!("cell-e2e-{name}-"))
            .tempdir()
            .expect("temp dir");
        App {
            dir,
            label: uuid::Uuid::new_v4().simple().to_string(),
            _turn: turn,
        }
    }

    /// `cargo cell <args>` run in the folder `rel` of the app (such as a generated project),
    /// killed after `timeout` (then `Run::status` is a failure and `timed_out` says so).
    pub fn cargo_cell_in(
        &self,
        rel: &str,
        args: &[&str],
        env: &[(&str, &str)],
        timeout: Duration,
    ) -> (Run, bool) {
        let mut cmd = self.command(cargo_cell_bin());
        cmd.current_dir(self.path().join(rel))
            .arg("cell")
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_with_timeout(cmd, timeout)
    }

    fn copy_tree_of(src: &Path, name: &str) -> App {
        let turn = take_turn();
        let dir = tempfile::Builder::new()
            .prefix(&format!("cell-e2e-{name}-"))
            .tempdir()
            .expect("temp dir");
        copy_tree(src, src, dir.path());
        App {
            dir,
            label: uuid::Uuid::new_v4().simple().to_string(),
            _turn: turn,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(self.path())
            .env("CARGO_TARGET_DIR", apps_target_dir())
            .env("CELL_POSTGRES_IMAGE", test_image())
            .env("CELL_REDIS_IMAGE", redis_test_image())
            .env_remove("CELL_REDIS_URL")
            .env(
                "CELL_TEST_LABEL",
                format!("{TEST_LABEL_KEY}={}", self.label),
            )
            .env_remove("CELL_POSTGRES_URL")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null());
        cmd
    }

    /// `program` run in the app as `cargo_cell` runs cargo-cell: the app's target dir, the
    /// test images, the test's label (for tools such as `script` that run cargo-cell).
    pub fn program(&self, program: &Path) -> Command {
        self.command(program)
    }

    fn run(mut cmd: Command) -> Run {
        let start = Instant::now();
        let output = cmd.output().expect("command runs");
        Run::from(output, start.elapsed())
    }

    /// `cargo cell <args>`, as cargo would run the subcommand.
    pub fn cargo_cell(&self, args: &[&str]) -> Run {
        self.cargo_cell_with(args, &[])
    }

    pub fn cargo_cell_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(cargo_cell_bin());
        cmd.arg("cell").args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        App::run(cmd)
    }

    /// Plain `cargo <args>`.
    pub fn cargo(&self, args: &[&str]) -> Run {
        self.cargo_with(args, &[])
    }

    pub fn cargo_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(Path::new(&cargo()));
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        App::run(cmd)
    }

    /// Runs the app's binary as built by the last build.
    pub fn run_binary(&self, name: &str) -> Run {
        self.run_binary_with(name, &[])
    }

    /// [`App::run_binary`] with more environment (such as another environment's URL).
    pub fn run_binary_with(&self, name: &str, env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(&apps_target_dir().join("debug").join(name));
        for (k, v) in env {
            cmd.env(k, v);
        }
        App::run(cmd)
    }

    /// The URL of a Cell this app brought up, from `.cell/state/<cell>.json`.
    pub fn state_url(&self, cell: &str) -> String {
        let state: serde_json::Value =
            serde_json::from_str(&self.read(&format!(".cell/state/{cell}.json")))
                .unwrap_or_else(|e| panic!("the {cell} state: {e}"));
        state["url"]
            .as_str()
            .unwrap_or_else(|| panic!("the {cell} state names no URL: {state}"))
            .to_string()
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path().join(rel), text).unwrap_or_else(|e| panic!("write {rel}: {e}"))
    }

    /// Replaces `from` (which must occur exactly once) in a file.
    #[track_caller]
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert_eq!(
            text.matches(from).count(),
            1,
            "`{from}` should occur once in {rel}"
        );
        self.write(rel, &text.replace(from, to));
    }

    /// Starts the app's binary with piped stdin, stdout and stderr.
    pub fn spawn_binary(&self, name: &str) -> std::process::Child {
        let mut cmd = self.command(&apps_target_dir().join("debug").join(name));
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().expect("the app starts")
    }

    /// The ids of this test's containers of one Cell (`postgres`, `redis`), running or not.
    pub fn cell_containers(&self, cell: &str) -> Vec<String> {
        let out = Command::new("docker")
            .args(["ps", "-aq", "--no-trunc", "--filter"])
            .arg(format!("label={TEST_LABEL_KEY}={}", self.label))
            .arg("--filter")
            .arg(format!("label=dev.cell.cell={cell}"))
            .output()
            .expect("docker ps");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The id of this test's container of one Cell (`postgres`, `redis`).
    #[track_caller]
    pub fn cell_container(&self, cell: &str) -> String {
        let ids = self.cell_containers(cell);
        assert_eq!(
            ids.len(),
            1,
            "expected one {cell} container for this test, found {ids:?}"
        );
        ids[0].clone()
    }

    /// The ids of this test's containers.
    pub fn containers(&self) -> Vec<String> {
        let out = Command::new("docker")
            .args(["ps", "-aq", "--no-trunc", "--filter"])
            .arg(format!("label={TEST_LABEL_KEY}={}", self.label))
            .output()
            .expect("docker ps");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[track_caller]
    pub fn container(&self) -> String {
        let ids = self.containers();
        assert_eq!(
            ids.len(),
            1,
            "expected one container for this test, found {ids:?}"
        );
        ids[0].clone()
    }

    /// `docker inspect` of this test's container, as JSON.
    pub fn inspect(&self) -> serde_json::Value {
        let out = Command::new("docker")
            .args(["inspect", &self.container()])
            .output()
            .expect("docker inspect");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect JSON");
        v[0].clone()
    }

    /// Runs SQL with `psql` inside the Cell's container (a client that is not ours);
    /// returns unaligned rows, `|`-separated.
    #[track_caller]
    pub fn psql(&self, sql: &str) -> String {
        self.psql_in(&self.cell_container("postgres"), "cell", sql)
    }

    /// `psql` as the program's own login (the Postgres Cell's `app_user`, from its state
    /// file), over TCP as the program connects, expected to fail: its error output.
    pub fn psql_refused_as_app(&self, sql: &str) -> String {
        let state: serde_json::Value =
            serde_json::from_str(&self.read(".cell/state/postgres.json")).expect("the state");
        let (user, password) = (
            state["app_user"].as_str().expect("an app login"),
            state["app_password"].as_str().expect("its password"),
        );
        let out = Command::new("docker")
            .args(["exec", "-e", &format!("PGPASSWORD={password}")])
            .args([&self.cell_container("postgres"), "psql", "-X", "-q", "-At"])
            .args(["-h", "127.0.0.1", "-U", user, "-d", "cell"])
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("docker exec psql");
        assert!(
            !out.status.success(),
            "`{sql}` was not refused to {user}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let label = self.label.clone();
        let cleanup = async move {
            let engine = cargo_cell::docker::Engine::connect_to(None).await?;
            engine.remove_labelled(TEST_LABEL_KEY, &label).await
        };
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => {
                if let Err(e) = rt.block_on(cleanup) {
                    eprintln!(
                        "cleanup of test containers labelled {TEST_LABEL_KEY}={} failed: {e}",
                        self.label
                    );
                }
            }
            Err(e) => eprintln!("cleanup runtime: {e}"),
        }
    }
}

/// Runs `cmd` to completion, or kills it after `timeout`. Returns the run and whether it was
/// killed.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> (Run, bool) {
    let start = Instant::now();
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("command starts");
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let (done, killed) = (done.clone(), killed.clone());
        std::thread::spawn(move || {
            while start.elapsed() < timeout {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if !done.load(std::sync::atomic::Ordering::SeqCst) {
                killed.store(true, std::sync::atomic::Ordering::SeqCst);
                // Only the process this function started, by its id.
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
        })
    };
    let output = child.wait_with_output().expect("command runs");
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = watchdog.join();
    (
        Run::from(output, start.elapsed()),
        killed.load(std::sync::atomic::Ordering::SeqCst),
    )
}

fn take_turn() -> std::fs::File {
    let dir = apps_target_dir();
    std::fs::create_dir_all(&dir).expect("apps target dir");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".e2e-turn.lock"))
        .expect("turn lock file");
    file.lock().expect("take the e2e turn");
    file
}

/// Copies `src` (inside the tree rooted at `root`) to `dst`. In Cargo.toml files, a
/// `path = "..."` that leaves the copied tree is made absolute, so the copy still finds this
/// repository's crates.
fn copy_tree(root: &Path, src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for entry in std::fs::read_dir(src).expect("read source tree") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name == "target" || name == "state" {
            continue;
        }
        let from = entry.path();
        let to = dst.join(&name);
        if from.is_dir() {
            copy_tree(root, &from, &to);
        } else if name == "Cargo.toml" {
            let text = std::fs::read_to_string(&from).expect("read manifest");
            std::fs::write(&to, absolute_paths(&text, src, root)).expect("write manifest");
        } else {
            std::fs::copy(&from, &to).expect("copy");
        }
    }
}

fn absolute_paths(manifest: &str, dir: &Path, root: &Path) -> String {
    let root = root.canonicalize().expect("root exists");
    let mut out = String::with_capacity(manifest.len());
    let mut rest = manifest;
    while let Some(i) = rest.find("path = \"") {
        let (head, tail) = rest.split_at(i + "path = \"".len());
        out.push_str(head);
        let end = tail.find('"').expect("closing quote");
        let rel = &tail[..end];
        let resolved = dir
            .join(rel)
            .canonicalize()
            .unwrap_or_else(|_| dir.join(rel));
        if resolved.starts_with(&root) {
            out.push_str(rel);
        } else {
            out.push_str(&resolved.display().to_string());
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// The 1-based line of the first line of `path` containing `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("`{needle}` not found"))
}

/// Running `cargo cell` in the background, for tests of concurrency and of being killed.
impl App {
    pub fn spawn_cargo_cell(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
        let mut cmd = self.command(cargo_cell_bin());
        cmd.arg("cell").args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cargo cell starts")
    }

    /// `psql` in a given container of this test (see [`App::psql`]).
    #[track_caller]
    pub fn psql_in(&self, container: &str, user: &str, sql: &str) -> String {
        let out = Command::new("docker")
            .args([
                "exec",
                container,
                "psql",
                "-X",
                "-q",
                "-At",
                "-U",
                user,
                "-d",
                user,
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .expect("docker exec psql");
        assert!(
            out.status.success(),
            "psql failed for `{sql}`: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// `psql` as `user` on `database` in `container`, through its local socket (the official
    /// image trusts it): the rows, or what the server said when it refused the statement.
    pub fn try_psql_in(
        &self,
        container: &str,
        user: &str,
        database: &str,
        sql: &str,
    ) -> Result<String, String> {
        let out = Command::new("docker")
            .args([
                "exec", container, "psql", "-X", "-q", "-At", "-U", user, "-d", database,
            ])
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("docker exec psql");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim_end().to_string())
        }
    }

    /// `psql` in the Postgres Cell's container as `role`, on the Cell's database (see
    /// [`App::try_psql_in`]).
    pub fn psql_as(&self, role: &str, sql: &str) -> Result<String, String> {
        self.try_psql_in(&self.cell_container("postgres"), role, "cell", sql)
    }

    /// Starts a Postgres of the test image that is not a Cell (another environment's
    /// database), labelled for this test's cleanup. Returns its container id and URL once
    /// it accepts logins.
    pub fn start_other_postgres(&self, user: &str, password: &str) -> (String, String) {
        let out = Command::new("docker")
            .args(["run", "-d", "--label"])
            .arg(format!("{TEST_LABEL_KEY}={}", self.label))
            // The cleanup removes by this label together with the test's own; the data
            // lives in memory, so no anonymous volume outlives the container.
            .args(["--label", "dev.cell.managed-by=cargo-cell"])
            .args(["--mount", "type=tmpfs,destination=/var/lib/postgresql/data"])
            .args(["-p", "127.0.0.1::5432", "-e"])
            .arg(format!("POSTGRES_PASSWORD={password}"))
            .arg("-e")
            .arg(format!("POSTGRES_USER={user}"))
            .arg(test_image())
            .output()
            .expect("docker run");
        assert!(
            out.status.success(),
            "docker run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let port = Command::new("docker")
            .args(["port", &id, "5432/tcp"])
            .output()
            .expect("docker port");
        let port = String::from_utf8_lossy(&port.stdout)
            .lines()
            .next()
            .and_then(|l| l.rsplit(':').next())
            .expect("a published port")
            .trim()
            .to_string();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new("docker")
                .args(["exec", "-e"])
                .arg(format!("PGPASSWORD={password}"))
                .args([
                    &id,
                    "psql",
                    "-X",
                    "-At",
                    "-U",
                    user,
                    "-d",
                    user,
                    "-h",
                    "127.0.0.1",
                    "-c",
                    "SELECT 1",
                ])
                .output()
                .is_ok_and(|o| o.status.success());
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the other Postgres did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        (
            id,
            format!("postgres://{user}:{password}@127.0.0.1:{port}/{user}"),
        )
    }
}

/// Another program built on the cargo-cell library (such as `cargo-cell-fixture`, cargo-cell
/// with the fixture Cell), run as cargo runs a subcommand: `<bin> cell <args>`, with the
/// same environment, labels and cleanup as [`App::cargo_cell`].
impl App {
    pub fn bin_cell(&self, bin: &Path, args: &[&str]) -> Run {
        self.bin_cell_with(bin, args, &[])
    }

    pub fn bin_cell_with(&self, bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(bin);
        cmd.arg("cell").args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        App::run(cmd)
    }
}
