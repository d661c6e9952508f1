//! The Auth Cell's acceptance, against the real Docker engine and the real token service
//! container, in a temporary copy of examples/auth-api: public, protected and admin routes
//! answer 401/403/200 as they should for every kind of bad token; removing `role = "admin"`
//! from a route shows in `cargo cell plan` as a loosened permission.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cell_e2e::{App, apps_target_dir, docker_available, repo_root};

const LOCAL_BASE: &str = "cargo-cell/debian:bookworm-slim";

/// The token service's base image: `CELL_AUTH_BASE_IMAGE`, else the local Debian base
/// (built by scripts/build-debian-base, cached by tag).
fn base_image() -> String {
    if let Ok(image) = std::env::var("CELL_AUTH_BASE_IMAGE") {
        return image;
    }
    let present = Command::new("docker")
        .args(["image", "inspect", LOCAL_BASE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        let status = Command::new(repo_root().join("scripts/build-debian-base"))
            .status()
            .expect("scripts/build-debian-base runs");
        assert!(status.success(), "scripts/build-debian-base failed");
    }
    LOCAL_BASE.to_string()
}

/// The example's server, stopped when dropped (also on panic).
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(app: &App) -> Server {
        let mut child = Command::new(apps_target_dir().join("debug").join("auth-api"))
            .current_dir(app.path())
            .env("AUTH_API_ADDR", "127.0.0.1:0")
            .env_remove("CELL_AUTH_ISSUER")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("auth-api starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("auth-api prints its address");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
        Server { child, port }
    }

    /// `GET path` with an optional bearer token: (status, headers in lower case, body).
    fn get(&self, path: &str, token: Option<&str>) -> (u16, String, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        (status, head.to_lowercase(), body.to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token(app: &App, env: &[(&str, &str)], args: &[&str]) -> String {
    let mut all = vec!["auth", "token"];
    all.extend_from_slice(args);
    let run = app.cargo_cell_with(&all, env);
    run.assert_success();
    run.stdout.trim().to_string()
}

/// The same claims and `kid` as `valid`, signed by a key the token service never had.
fn signed_by_another_key(valid: &str) -> String {
    let header = jsonwebtoken::decode_header(valid).expect("header");
    let payload = valid.split('.').nth(1).expect("payload");
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json");
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .expect("key");
    let mut forged = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    forged.kid = header.kid;
    jsonwebtoken::encode(
        &forged,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()),
    )
    .expect("sign")
}

/// `alg: none`, valid claims, no signature.
fn unsigned(valid: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = valid.split('.').nth(1).expect("payload");
    format!("{header}.{payload}.")
}

#[test]
fn guarded_routes_against_the_real_auth_cell_then_a_loosened_rule_in_the_plan() {
    if !docker_available() {
        return;
    }
    let base = base_image();
    let env = [("CELL_AUTH_BASE_IMAGE", base.as_str())];
    let app = App::copy_example("auth-api");

    let build = app.cargo_cell_with(&["build"], &env);
    build.assert_success();
    let out = build.output();
    for line in [
        "+ auth_api::admin_stats: requires role admin",
        "+ auth_api::me: requires any authenticated caller",
        "+ auth_api::open_tickets: requires any of admin, support",
    ] {
        assert!(out.contains(line), "the build lists `{line}`:\n{out}");
    }

    // The lock: every guarded function with its roles, and the role table.
    let lock: serde_json::Value =
        serde_json::from_str(&app.read(".cell/auth.lock.json")).expect("lock JSON");
    assert_eq!(lock["roles"], serde_json::json!(["admin", "support"]));
    assert_eq!(
        lock["guards"]["auth_api::admin_stats"],
        serde_json::json!({"kind": "any", "roles": ["admin"]})
    );
    assert_eq!(
        lock["guards"]["auth_api::me"],
        serde_json::json!({"kind": "protected"})
    );

    // The Auth Cell: our binary in a labelled container, published on loopback only.
    let info = app.inspect();
    assert_eq!(info["Config"]["Labels"]["dev.cell.cell"], "auth");
    assert_eq!(
        info["HostConfig"]["PortBindings"]["8080/tcp"][0]["HostIp"],
        "127.0.0.1"
    );
    assert_eq!(info["Config"]["Cmd"][0], "/usr/local/bin/cargo-cell");
    assert!(
        app.read(".cell/.gitignore").contains("/state/"),
        "the admin secret stays out of version control"
    );

    let admin = token(&app, &env, &["--role", "admin", "--sub", "alice"]);
    let support = token(&app, &env, &["--role", "support", "--sub", "bob"]);
    let expired = token(&app, &env, &["--role", "admin", "--ttl=-600"]);
    let wrong_audience = token(&app, &env, &["--role", "admin", "--aud", "another-app"]);
    let other_key = signed_by_another_key(&admin);
    let none = unsigned(&admin);

    let server = Server::start(&app);
    let cases: [(&str, Option<&str>, u16, Option<&str>); 14] = [
        ("/public", None, 200, None),
        (
            "/me",
            None,
            401,
            Some("www-authenticate: bearer realm=\"cell\"\r\n"),
        ),
        (
            "/admin/stats",
            None,
            401,
            Some("www-authenticate: bearer realm=\"cell\""),
        ),
        (
            "/admin/stats",
            Some(&expired),
            401,
            Some("error=\"invalid_token\", error_description=\"the token has expired\""),
        ),
        (
            "/admin/stats",
            Some(&other_key),
            401,
            Some("error_description=\"invalid signature\""),
        ),
        (
            "/admin/stats",
            Some(&none),
            401,
            Some("error_description=\"algorithm none is not accepted\""),
        ),
        (
            "/admin/stats",
            Some(&wrong_audience),
            401,
            Some("another audience"),
        ),
        (
            "/admin/stats",
            Some("not-a-jwt"),
            401,
            Some("www-authenticate: bearer"),
        ),
        (
            "/admin/stats",
            Some(&support),
            403,
            Some("error=\"insufficient_scope\""),
        ),
        ("/me", Some(&support), 200, None),
        ("/tickets", Some(&support), 200, None),
        ("/me", Some(&expired), 401, Some("invalid_token")),
        ("/admin/stats", Some(&admin), 200, None),
        ("/tickets", Some(&admin), 200, None),
    ];
    for (path, token, status, header) in cases {
        let (got, head, body) = server.get(path, token);
        let which = token.map(|t| &t[..t.len().min(16)]).unwrap_or("no token");
        assert_eq!(got, status, "{path} with {which}: {head}\n{body}");
        if let Some(h) = header {
            assert!(head.contains(h), "{path} with {which}: `{h}` in\n{head}");
        }
        if status >= 400 {
            let json: serde_json::Value = serde_json::from_str(&body).expect("JSON error body");
            assert!(json["error"].is_string(), "{body}");
        }
    }
    let (_, _, body) = server.get("/admin/stats", Some(&admin));
    assert!(body.contains("\"asked_by\":\"alice\""), "{body}");
    drop(server);

    // Loosening a rule: the plan shows it as needing review, and counts it as a change.
    app.edit(
        "src/main.rs",
        "#[Auth::require(role = \"admin\")]",
        "#[Auth::protected]",
    );
    let plan = app.cargo_cell_with(&["plan", "--detailed-exitcode"], &env);
    let out = plan.output();
    assert_eq!(plan.status.code(), Some(2), "a change exits 2:\n{out}");
    assert!(
        out.contains("auth: 1 permission change (1 loosened: needs review)"),
        "{out}"
    );
    assert!(
        out.contains(
            "~ auth_api::admin_stats: role admin -> any authenticated caller   LOOSENED: needs review"
        ),
        "{out}"
    );
    // Until it is locked, a plain build refuses the unreviewed rule.
    let plain = app.cargo(&["build"]);
    plain.assert_failure();
    assert!(
        plain
            .stderr
            .contains("the guard of `auth_api::admin_stats` requires any authenticated caller"),
        "{}",
        plain.stderr
    );
}
