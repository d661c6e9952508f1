//! `cargo_cell::docker` against the real Docker engine: no mocks.
//!
//! The Postgres image comes from `CELL_POSTGRES_IMAGE` (default
//! `cargo-cell/postgres:15`, built by `scripts/build-images`). Every test
//! labels what it creates with its own `dev.cell.test=<uuid>` and removes all
//! of it in a drop guard, even when it panics.
//!
//! Without an engine or the image these tests are skipped with a printed
//! reason, except in CI (`CI=true`), where they fail.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::PortBinding;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use cargo_cell::docker::{
    CellSpec, DockerError, Engine, LABEL_CELL, LABEL_CONFIG, LABEL_MANAGED_BY, LABEL_WORKSPACE,
    LABEL_WORKSPACE_NAME, MANAGED_BY, RunningCell, WorkspaceId,
};
use cargo_cell::ui::Ui;

const TEST_LABEL: &str = "dev.cell.test";
const PG_DATA: &str = "/var/lib/postgresql/data";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn image() -> String {
    std::env::var("CELL_POSTGRES_IMAGE")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "cargo-cell/postgres:15".to_owned())
}

/// Skip (outside CI) or fail (in CI) for a missing prerequisite.
fn unavailable(reason: String) -> Option<Harness> {
    if in_ci() {
        panic!("{reason} (CI=true: a missing engine or image fails the tests)");
    }
    eprintln!("skipping: {reason}");
    None
}

/// One test's engine, workspace and cleanup.
struct Harness {
    engine: Engine,
    docker: Docker,
    ws: WorkspaceId,
    ui: Ui,
    image: String,
    label: String,
    // Declared last: dropped after everything above.
    _cleanup: Cleanup,
    _root: tempfile::TempDir,
}

async fn harness() -> Option<Harness> {
    let engine = match Engine::connect().await {
        Ok(engine) => engine,
        Err(e) => return unavailable(format!("no Docker engine: {e}")),
    };
    let docker = Docker::connect_with_defaults().expect("bollard connects where Engine did");
    let image = image();
    if let Err(e) = docker.inspect_image(&image).await {
        return unavailable(format!(
            "image {image} is missing ({e}); build it with scripts/build-images"
        ));
    }
    let label = uuid::Uuid::new_v4().simple().to_string();
    let engine = engine.with_extra_label(TEST_LABEL, &label);
    let root = tempfile::Builder::new()
        .prefix("cell-test-ws")
        .tempdir()
        .unwrap();
    Some(Harness {
        ws: WorkspaceId::for_root(root.path()),
        engine,
        docker,
        ui: Ui::plain(Captured, false, true),
        image,
        _cleanup: Cleanup {
            label: label.clone(),
            foreign: Vec::new(),
        },
        label,
        _root: root,
    })
}

impl Harness {
    fn spec(&self, password: &str) -> CellSpec {
        CellSpec {
            cell: "postgres".into(),
            image: self.image.clone(),
            env: vec![("POSTGRES_PASSWORD".into(), password.into())],
            cmd: None,
            container_port: 5432,
            data_path: PG_DATA.into(),
            image_env: "CELL_POSTGRES_IMAGE".into(),
            image_hint: "build the local test images with `scripts/build-images`".into(),
        }
    }

    async fn containers(&self) -> Vec<bollard::models::ContainerSummary> {
        let filters = HashMap::from([("label", vec![format!("{TEST_LABEL}={}", self.label)])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        self.docker.list_containers(Some(options)).await.unwrap()
    }

    async fn volumes(&self) -> Vec<bollard::models::Volume> {
        let filters = HashMap::from([("label", vec![format!("{TEST_LABEL}={}", self.label)])]);
        let options = ListVolumesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let list = self.docker.list_volumes(Some(options)).await.unwrap();
        list.volumes.unwrap_or_default()
    }

    async fn run(&self, cell: &RunningCell, cmd: &[&str]) -> String {
        let out = self.engine.exec(&cell.container_id, cmd).await.unwrap();
        assert_eq!(out.exit_code, Some(0), "{cmd:?} failed: {}", out.output);
        out.output
    }
}

/// Ui output through `eprint!`, so the test harness captures it and shows it
/// only for failing tests.
struct Captured;

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        eprint!("{}", String::from_utf8_lossy(buf));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Removes everything labelled with this test's label, whatever happened.
struct Cleanup {
    label: String,
    /// Containers created by the test itself without our labels.
    foreign: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let label = self.label.clone();
        let foreign = std::mem::take(&mut self.foreign);
        // Drop may run inside (or outside) a runtime, unwinding or not: use
        // a thread with its own runtime.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let engine = match Engine::connect().await {
                    Ok(e) => e,
                    Err(e) => return eprintln!("cleanup: cannot connect: {e}"),
                };
                match engine.remove_labelled(TEST_LABEL, &label).await {
                    Ok(removed) => eprintln!("cleanup: removed {removed:?}"),
                    Err(e) => eprintln!("cleanup of {TEST_LABEL}={label} failed: {e:?}"),
                }
                if let Ok(docker) = Docker::connect_with_defaults() {
                    for name in foreign {
                        let options = RemoveContainerOptionsBuilder::default().force(true).build();
                        let _ = docker.remove_container(&name, Some(options)).await;
                    }
                }
            })
        });
        let _ = done.join();
    }
}

/// Poll until Postgres on 127.0.0.1:`port` accepts the password (60 s).
async fn wait_for_postgres(port: u16, password: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let config = format!(
        "host=127.0.0.1 port={port} user=postgres password={password} dbname=postgres connect_timeout=5"
    );
    loop {
        match tokio_postgres::connect(&config, tokio_postgres::NoTls).await {
            Ok((client, conn)) => {
                let conn = tokio::spawn(conn);
                let row = client.query_one("select 1 + 1", &[]).await.unwrap();
                assert_eq!(row.get::<_, i32>(0), 2);
                drop(client);
                let _ = conn.await;
                return;
            }
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("Postgres on 127.0.0.1:{port} never became ready: {e}"),
        }
    }
}

fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|n| n.parse().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((1024, 65535))
}

#[tokio::test]
async fn ensure_running_creates_then_reuses_and_publishes_on_loopback_only() {
    let Some(h) = harness().await else { return };
    let password = uuid::Uuid::new_v4().simple().to_string();
    let spec = h.spec(&password);

    let first = h.engine.ensure_running(&h.ws, &spec, &h.ui).await.unwrap();
    assert!(first.created);
    assert_eq!(first.cell, "postgres");
    assert_eq!(first.container_name, h.ws.container_name("postgres"));
    assert_eq!(first.image, h.image);
    assert_eq!(first.env_var("POSTGRES_PASSWORD"), Some(password.as_str()));
    let (low, high) = ephemeral_range();
    assert!(
        (low..=high).contains(&first.host_port) && first.host_port != 0,
        "port {} outside the ephemeral range {low}-{high}",
        first.host_port
    );

    let second = h.engine.ensure_running(&h.ws, &spec, &h.ui).await.unwrap();
    assert_eq!(second.container_id, first.container_id);
    assert!(!second.created);
    assert_eq!(second.host_port, first.host_port);

    // Exactly one container, with our labels.
    let containers = h.containers().await;
    assert_eq!(containers.len(), 1, "{containers:#?}");
    let info = h
        .docker
        .inspect_container(&first.container_id, None)
        .await
        .unwrap();
    let labels = info.config.as_ref().unwrap().labels.clone().unwrap();
    assert_eq!(labels[LABEL_MANAGED_BY], MANAGED_BY);
    assert_eq!(labels[LABEL_WORKSPACE], h.ws.id);
    assert_eq!(labels[LABEL_WORKSPACE_NAME], h.ws.name);
    assert_eq!(labels[LABEL_CELL], "postgres");
    assert_eq!(labels[LABEL_CONFIG], spec.config_hash());
    assert_eq!(labels[TEST_LABEL], h.label);

    // Published on 127.0.0.1 only, as asked and as bound.
    let key = "5432/tcp";
    let asked = info
        .host_config
        .as_ref()
        .unwrap()
        .port_bindings
        .as_ref()
        .unwrap()[key]
        .clone()
        .unwrap();
    assert_eq!(
        asked,
        vec![PortBinding {
            host_ip: Some("127.0.0.1".into()),
            host_port: Some(String::new())
        }]
    );
    let bound = info
        .network_settings
        .as_ref()
        .unwrap()
        .ports
        .as_ref()
        .unwrap()[key]
        .clone()
        .unwrap();
    assert_eq!(
        bound,
        vec![PortBinding {
            host_ip: Some("127.0.0.1".into()),
            host_port: Some(first.host_port.to_string())
        }]
    );

    // The named volume, labelled, mounted at the data path.
    let volumes = h.volumes().await;
    assert_eq!(volumes.len(), 1, "{volumes:#?}");
    let volume = &volumes[0];
    assert_eq!(volume.name, h.ws.volume_name("postgres"));
    assert_eq!(volume.labels[LABEL_MANAGED_BY], MANAGED_BY);
    assert_eq!(volume.labels[LABEL_WORKSPACE], h.ws.id);
    assert_eq!(volume.labels[LABEL_WORKSPACE_NAME], h.ws.name);
    assert_eq!(volume.labels[LABEL_CELL], "postgres");
    assert_eq!(volume.labels[TEST_LABEL], h.label);
    let mounts = info.mounts.clone().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m.name.as_deref() == Some(volume.name.as_str())
                && m.destination.as_deref() == Some(PG_DATA)),
        "{mounts:#?}"
    );

    // The service is really reachable on the published port.
    wait_for_postgres(first.host_port, &password).await;

    // find_cell sees it, with the env to recover the password from.
    let found = h
        .engine
        .find_cell(&h.ws, "postgres")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.container_id, first.container_id);
    assert_eq!(found.host_port, first.host_port);
    assert_eq!(found.env_var("POSTGRES_PASSWORD"), Some(password.as_str()));
    assert!(h.engine.find_cell(&h.ws, "redis").await.unwrap().is_none());

    // Stopped: found with port 0, then started again (same container, same
    // data) and its port read back.
    let stop = StopContainerOptionsBuilder::default().t(10).build();
    h.docker
        .stop_container(&first.container_id, Some(stop))
        .await
        .unwrap();
    let stopped = h
        .engine
        .find_cell(&h.ws, "postgres")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stopped.host_port, 0);
    let third = h.engine.ensure_running(&h.ws, &spec, &h.ui).await.unwrap();
    assert_eq!(third.container_id, first.container_id);
    assert!(!third.created);
    assert_ne!(third.host_port, 0);
    wait_for_postgres(third.host_port, &password).await;

    // Logs are there for diagnostics.
    let logs = h.engine.logs_tail(&first.container_id, 5).await;
    assert!(!logs.is_empty() && logs.lines().count() <= 5, "{logs}");
}

#[tokio::test]
async fn a_config_change_replaces_the_container_but_keeps_the_volume() {
    let Some(h) = harness().await else { return };
    // The volume at a path of its own, so a marker can be written at once
    // (PGDATA must be empty for initdb).
    let mut spec = h.spec("first");
    spec.data_path = "/cell-test-data".into();

    let first = h.engine.ensure_running(&h.ws, &spec, &h.ui).await.unwrap();
    assert!(first.created);
    h.run(&first, &["sh", "-c", "echo kept > /cell-test-data/marker"])
        .await;
    // Replacing stops the old container gracefully; a Postgres still in
    // initdb ignores the stop signal for the whole stop timeout.
    wait_for_postgres(first.host_port, "first").await;

    spec.env = vec![("POSTGRES_PASSWORD".into(), "second".into())];
    let second = h.engine.ensure_running(&h.ws, &spec, &h.ui).await.unwrap();
    assert!(second.created);
    assert_ne!(second.container_id, first.container_id);
    assert_eq!(second.container_name, first.container_name);
    assert_eq!(second.env_var("POSTGRES_PASSWORD"), Some("second"));
    assert_eq!(
        h.run(&second, &["cat", "/cell-test-data/marker"])
            .await
            .trim(),
        "kept"
    );
    let containers = h.containers().await;
    assert_eq!(containers.len(), 1, "the old container is gone");
    assert_eq!(
        containers[0].id.as_deref(),
        Some(second.container_id.as_str())
    );
    assert_eq!(h.volumes().await.len(), 1);
    wait_for_postgres(second.host_port, "second").await;

    // Naming another Cell removes nothing.
    let removed = h
        .engine
        .remove_cells(&h.ws, &["redis".into()], true)
        .await
        .unwrap();
    assert!(removed.is_empty(), "{removed:?}");

    // `down` keeps the volume; `down -v` removes it.
    let removed = h
        .engine
        .remove_cells(&h.ws, &["postgres".into()], false)
        .await
        .unwrap();
    assert_eq!(removed, vec![second.container_name.clone()]);
    assert!(h.containers().await.is_empty());
    assert_eq!(h.volumes().await.len(), 1);
    let removed = h.engine.remove_cells(&h.ws, &[], true).await.unwrap();
    assert_eq!(removed, vec![h.ws.volume_name("postgres")]);
    assert!(h.volumes().await.is_empty());
}

#[tokio::test]
async fn connect_fails_fast_with_unreachable() {
    for host in [
        "tcp://127.0.0.1:1",
        "unix:///nonexistent/cargo-cell/docker.sock",
    ] {
        let start = Instant::now();
        let err = Engine::connect_to(Some(host)).await.unwrap_err();
        let elapsed = start.elapsed();
        assert!(
            matches!(err, DockerError::Unreachable { .. }),
            "{host}: {err:?}"
        );
        assert!(
            elapsed < Duration::from_secs(10),
            "{host}: took {elapsed:?}"
        );
        assert!(err.to_string().contains(host), "{err}");
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        assert!(help.contains("systemctl start docker"), "{help}");
    }
    let err = Engine::connect_to(Some("bogus://x")).await.unwrap_err();
    assert!(matches!(err, DockerError::InvalidHost { .. }), "{err:?}");
}

#[tokio::test]
async fn a_missing_image_is_image_unavailable_and_leaves_nothing() {
    let Some(h) = harness().await else { return };
    let mut spec = h.spec("pw");
    spec.image = format!("cargo-cell/no-such-image:{}", uuid::Uuid::new_v4().simple());
    let err = h
        .engine
        .ensure_running(&h.ws, &spec, &Ui::silent())
        .await
        .unwrap_err();
    match &err {
        DockerError::ImageUnavailable { image, env_var, .. } => {
            assert_eq!(image, &spec.image);
            assert_eq!(env_var, "CELL_POSTGRES_IMAGE");
        }
        other => panic!("expected ImageUnavailable, got {other:?}"),
    }
    let text = format!("{:?}", miette::Report::new(err));
    assert!(text.contains("cell::docker::image_unavailable"), "{text}");
    assert!(text.contains("scripts/build-images"), "{text}");
    assert!(h.containers().await.is_empty());
    assert!(h.volumes().await.is_empty());
}

#[tokio::test]
async fn a_container_we_did_not_create_is_a_conflict_and_is_left_alone() {
    let Some(mut h) = harness().await else { return };
    let name = h.ws.container_name("postgres");
    // Someone else's container with our name: no cargo-cell labels.
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    let body = bollard::models::ContainerCreateBody {
        image: Some(h.image.clone()),
        labels: Some(HashMap::from([(TEST_LABEL.to_owned(), h.label.clone())])),
        ..Default::default()
    };
    let foreign = h
        .docker
        .create_container(Some(options), body)
        .await
        .unwrap();
    h._cleanup.foreign.push(foreign.id.clone());

    let err = h
        .engine
        .ensure_running(&h.ws, &h.spec("pw"), &h.ui)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DockerError::NameConflict { kind: "container", name: n } if *n == name),
        "{err:?}"
    );
    // Still there, untouched; and `down` does not see it either.
    let removed = h.engine.remove_cells(&h.ws, &[], true).await.unwrap();
    assert!(
        !removed.contains(&name),
        "removed a foreign container: {removed:?}"
    );
    let info = h.docker.inspect_container(&foreign.id, None).await.unwrap();
    assert_eq!(info.id.as_deref(), Some(foreign.id.as_str()));
}
