use super::connect::parse_label;
use super::error::start_error;
use super::image::split_reference;
use super::*;
use crate::workspace::sanitize_name;
use bollard::errors::Error as BollardError;
use std::path::Path;

fn spec() -> CellSpec {
    CellSpec {
        cell: "postgres".into(),
        image: "postgres:17".into(),
        env: vec![
            ("POSTGRES_PASSWORD".into(), "pw".into()),
            ("POSTGRES_USER".into(), "app".into()),
        ],
        cmd: None,
        container_port: 5432,
        data_path: "/var/lib/postgresql/data".into(),
        image_env: "CELL_POSTGRES_IMAGE".into(),
        image_hint: "build the local test images with `scripts/build-images`".into(),
    }
}

#[test]
fn config_hash_is_16_hex_and_ignores_env_order() {
    let a = spec();
    let mut b = spec();
    b.env.reverse();
    assert_eq!(a.config_hash(), b.config_hash());
    assert_eq!(a.config_hash().len(), 16);
    assert!(a.config_hash().chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn config_hash_changes_with_each_field() {
    let base = spec().config_hash();
    let changes: [fn(&mut CellSpec); 5] = [
        |s| s.image = "postgres:16".into(),
        |s| s.env[0].1 = "other".into(),
        |s| s.cmd = Some(vec!["postgres".into()]),
        |s| s.container_port = 5433,
        |s| s.data_path = "/data".into(),
    ];
    for change in changes {
        let mut s = spec();
        change(&mut s);
        assert_ne!(s.config_hash(), base, "{s:?}");
    }
}

#[test]
fn workspace_id_is_stable_and_names_are_docker_safe() {
    let a = WorkspaceId::for_root(Path::new("/nonexistent/My Project!"));
    let b = WorkspaceId::for_root(Path::new("/nonexistent/My Project!"));
    let c = WorkspaceId::for_root(Path::new("/elsewhere/My Project!"));
    assert_eq!(a, b);
    assert_ne!(a.id, c.id);
    assert_eq!(a.name, "my-project");
    assert_eq!(a.id.len(), 10);
    assert_eq!(
        a.container_name("postgres"),
        format!("cell-my-project-{}-postgres", a.id)
    );
    assert_eq!(
        a.volume_name("postgres"),
        format!("cell-my-project-{}-postgres-data", a.id)
    );
    assert_eq!(WorkspaceId::for_root(Path::new("/")).name, "workspace");
}

#[test]
fn sanitize() {
    assert_eq!(sanitize_name("_-abc"), "abc");
    assert_eq!(sanitize_name("a..b"), "a..b");
    assert_eq!(sanitize_name("ÄÖ x"), "x");
    assert_eq!(sanitize_name("abc-"), "abc");
    assert_eq!(sanitize_name(&"x".repeat(80)).len(), 32);
}

#[test]
fn references() {
    assert_eq!(split_reference("postgres:17"), ("postgres", Some("17")));
    assert_eq!(split_reference("postgres"), ("postgres", Some("latest")));
    assert_eq!(
        split_reference("cargo-cell/postgres:15"),
        ("cargo-cell/postgres", Some("15"))
    );
    assert_eq!(
        split_reference("localhost:5000/pg"),
        ("localhost:5000/pg", Some("latest"))
    );
    assert_eq!(
        split_reference("localhost:5000/pg:1"),
        ("localhost:5000/pg", Some("1"))
    );
    assert_eq!(split_reference("pg@sha256:abc"), ("pg@sha256:abc", None));
}

#[test]
fn labels_parse() {
    assert_eq!(parse_label("a=b"), Some(("a", "b")));
    assert_eq!(parse_label("a=b=c"), Some(("a", "b=c")));
    assert_eq!(parse_label("a"), None);
    assert_eq!(parse_label("=b"), None);
}

#[test]
fn image_unavailable_help_names_every_way_out() {
    use miette::Diagnostic;
    let err = DockerError::ImageUnavailable {
        cell: "postgres".into(),
        image: "postgres:17".into(),
        env_var: "CELL_POSTGRES_IMAGE".into(),
        hint: "; without a registry, build the local test images with `scripts/build-images`"
            .into(),
        source: Box::new(BollardError::RequestTimeoutError),
    };
    let help = err.help().unwrap().to_string();
    for needle in [
        "docker pull postgres:17",
        "[workspace.metadata.cell.postgres] image",
        "CELL_POSTGRES_IMAGE",
        "scripts/build-images",
    ] {
        assert!(help.contains(needle), "{needle} missing from {help}");
    }
    assert_eq!(
        err.code().unwrap().to_string(),
        "cell::docker::image_unavailable"
    );
}

#[test]
fn a_taken_port_is_told_apart_from_other_start_failures() {
    use miette::Diagnostic;
    let taken = BollardError::DockerResponseServerError {
            status_code: 500,
            message: "driver failed programming external connectivity: Bind for 127.0.0.1:5432 failed: port is already allocated".into(),
        };
    let err = start_error("postgres", "cell-x-postgres", taken);
    assert_eq!(
        err.code().unwrap().to_string(),
        "cell::docker::port_conflict"
    );
    assert!(
        err.help()
            .unwrap()
            .to_string()
            .contains("cargo cell down postgres")
    );
    let other = BollardError::DockerResponseServerError {
        status_code: 500,
        message: "no such image".into(),
    };
    assert_eq!(
        start_error("postgres", "n", other)
            .code()
            .unwrap()
            .to_string(),
        "cell::docker::start"
    );
}

#[test]
fn a_build_context_holds_each_file_with_its_mode() {
    let bytes = tar(&[
        File {
            name: "Dockerfile",
            mode: 0o644,
            bytes: b"FROM x\n",
        },
        File {
            name: "cargo-cell",
            mode: 0o755,
            bytes: b"\x7fELF",
        },
    ])
    .unwrap();
    let mut archive = ::tar::Archive::new(&bytes[..]);
    let names: Vec<(String, u32, u64)> = archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().display().to_string(),
                e.header().mode().unwrap(),
                e.header().size().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("Dockerfile".into(), 0o644, 7),
            ("cargo-cell".into(), 0o755, 4)
        ]
    );
}
