//! Deployment over TLS: `cargo cell apply --env prod` and the runtime reach a Postgres server
//! that refuses unencrypted connections, verifying its certificate against the CA that
//! `PGSSLROOTCERT` names; an untrusted certificate is refused with help that names the fix.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use cell_e2e::{App, docker_available};

/// Makes the test's own CA, a server certificate for 127.0.0.1 signed by it, installs both in
/// `container` and turns `ssl` on, with unencrypted TCP connections rejected. Returns the CA
/// certificate's path.
fn require_tls(app: &App, container: &str, user: &str) -> PathBuf {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "cargo-cell test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .unwrap()
        .signed_by(&server_key, &ca_cert, &ca_key)
        .unwrap();

    let dir = app.path().join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.crt"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
    for file in ["server.crt", "server.key"] {
        docker(&[
            "cp",
            dir.join(file).to_str().unwrap(),
            &format!("{container}:/var/lib/postgresql/{file}"),
        ]);
    }
    docker(&[
        "exec",
        "-u",
        "0",
        container,
        "sh",
        "-c",
        "chown postgres:postgres /var/lib/postgresql/server.* \
         && chmod 600 /var/lib/postgresql/server.key \
         && sed -i '1i hostnossl all all all reject' /var/lib/postgresql/data/pg_hba.conf",
    ]);
    for setting in [
        "ALTER SYSTEM SET ssl_cert_file = '/var/lib/postgresql/server.crt'",
        "ALTER SYSTEM SET ssl_key_file = '/var/lib/postgresql/server.key'",
        "ALTER SYSTEM SET ssl = on",
        "SELECT pg_reload_conf()",
    ] {
        app.psql_in(container, user, setting);
    }
    // The reload is asynchronous: wait until the server runs with it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.psql_in(container, user, "SHOW ssl") != "on" {
        assert!(Instant::now() < deadline, "ssl did not turn on");
        std::thread::sleep(Duration::from_millis(100));
    }
    ca_path
}

fn docker(args: &[&str]) {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tables(app: &App, container: &str, user: &str) -> String {
    app.psql_in(
        container,
        user,
        "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables \
         WHERE table_schema = 'public'",
    )
}

#[test]
fn apply_and_runtime_over_verified_tls() {
    if !docker_available() {
        return;
    }
    let app = App::copy_example("users");
    // The dev build writes the lock and builds the binary against it.
    app.cargo_cell(&["build"]).assert_success();
    let (prod, url) = app.start_other_postgres("produser", "prodsecret");
    let ca = require_tls(&app, &prod, "produser");
    let ca = ca.to_str().unwrap();
    let tls_url = format!("{url}?sslmode=require");
    let apply = ["apply", "--env", "prod", "--yes"];

    // The server rejects plain connections: nothing below could pass without TLS.
    let plain = app.cargo_cell_with(
        &apply,
        &[("CELL_POSTGRES_URL", &format!("{url}?sslmode=disable"))],
    );
    plain.assert_failure();
    assert!(
        plain.stderr.contains("cell::env::connect"),
        "{}",
        plain.output()
    );

    // Encrypted, but the certificate is signed by a CA nobody was told to trust.
    let untrusted = app.cargo_cell_with(&apply, &[("CELL_POSTGRES_URL", &tls_url)]);
    untrusted.assert_failure();
    for expected in ["cell::env::certificate", "does not trust", "PGSSLROOTCERT"] {
        assert!(
            untrusted.stderr.contains(expected),
            "expected `{expected}` in:\n{}",
            untrusted.output()
        );
    }
    assert_eq!(tables(&app, &prod, "produser"), "", "nothing was applied");

    // A root file that holds no certificate is named as the problem.
    let empty = app.path().join("tls").join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let bad_root = app.cargo_cell_with(
        &apply,
        &[
            ("CELL_POSTGRES_URL", &tls_url),
            ("PGSSLROOTCERT", empty.to_str().unwrap()),
        ],
    );
    bad_root.assert_failure();
    assert!(
        bad_root.stderr.contains("cell::env::tls_config"),
        "{}",
        bad_root.output()
    );

    // Trusting the test's CA: applied, and a second plan finds nothing to do.
    let trusted = [
        ("CELL_POSTGRES_URL", tls_url.as_str()),
        ("PGSSLROOTCERT", ca),
    ];
    app.cargo_cell_with(&apply, &trusted).assert_success();
    assert_eq!(tables(&app, &prod, "produser"), "organizations,users");
    let again = app.cargo_cell_with(&["plan", "--env", "prod", "--detailed-exitcode"], &trusted);
    assert_eq!(again.status.code(), Some(0), "{}", again.output());

    // The runtime, in deployment, connects the same way.
    let run = app.run_binary_with("users", &trusted);
    run.assert_success();
    let refused = app.run_binary_with("users", &[("CELL_POSTGRES_URL", tls_url.as_str())]);
    refused.assert_failure();
    assert!(
        refused.output().contains("PGSSLROOTCERT"),
        "{}",
        refused.output()
    );
}
