//! The Auth Cell's costs per request: the guard alone, and verifying a JWT into an
//! `AuthContext` (HS256, RS256, and ES256 as the dev token service signs).
//!
//! `cargo bench -p cell-runtime --bench auth`
//!
//! `guard/bit_test` is what `#[Auth::require]` expands to when the workspace has a lock
//! (`require_mask`, inlined into the function); `guard/by_name` is the expansion without a
//! lock (a plain `cargo build` of a fresh checkout).

use std::hint::black_box;

use cell_runtime::__private::auth::{require_any_name, require_mask};
use cell_runtime::auth::{AuthContext, Claims, Verifier, VerifierConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, encode};

const RSA_PRIVATE: &[u8] = include_bytes!("../tests/fixtures/rsa-test-private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../tests/fixtures/rsa-test-public.pem");
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn claims() -> serde_json::Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    serde_json::json!({
        "sub": "alice", "roles": ["admin", "support"], "iss": "bench", "aud": "app",
        "iat": now, "nbf": now, "exp": now + 3600,
    })
}

fn caller(roles: &[&str]) -> AuthContext {
    AuthContext::from_claims(Claims {
        sub: "alice".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        iss: "bench".into(),
        aud: "app".into(),
        exp: 0,
        nbf: None,
        iat: None,
        extra: Default::default(),
    })
}

// The role table a lock with roles [admin, billing, support] gives: guards compiled against
// it register these positions, and `AuthContext::from_claims` maps token roles through them.
cell_runtime::__private::auth::inventory::submit! {
    cell_runtime::__private::auth::RoleBit { role: "admin", bit: 0 }
}
cell_runtime::__private::auth::inventory::submit! {
    cell_runtime::__private::auth::RoleBit { role: "support", bit: 2 }
}

fn guard(c: &mut Criterion) {
    let admin = caller(&["admin"]);
    let support = caller(&["support"]);
    assert_eq!((admin.bits(), support.bits()), (0b001, 0b100));
    let mut g = c.benchmark_group("guard");
    g.bench_function("bit_test/allowed", |b| {
        b.iter(|| require_mask(black_box(&admin), black_box(0b001)))
    });
    g.bench_function("bit_test/forbidden", |b| {
        b.iter(|| require_mask(black_box(&support), black_box(0b001)))
    });
    g.bench_function("by_name/allowed", |b| {
        b.iter(|| require_any_name(black_box(&admin), black_box(&["admin"])))
    });
    // What criterion's loop costs around any closure: an opaque pointer in, a value out.
    // The single-call figures above include it.
    g.bench_function("harness_floor", |b| b.iter(|| black_box(&admin).bits()));
    g.finish();

    // The guard as it runs inlined into guarded functions: many calls in a row, each on a
    // caller the optimiser cannot see (black_box), so no call is folded or hoisted. The
    // time per element is the guard's own cost, without criterion's per-iteration work.
    let callers: Vec<AuthContext> = (0..BATCH).map(|_| caller(&["admin"])).collect();
    let mut g = c.benchmark_group("guard_batched");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("bit_test", |b| {
        b.iter(|| {
            let mut allowed = 0u32;
            for ctx in &callers {
                allowed += require_mask(black_box(ctx), black_box(0b001)).is_ok() as u32;
            }
            allowed
        })
    });
    g.bench_function("floor", |b| {
        b.iter(|| {
            let mut n = 0u32;
            for ctx in &callers {
                n += (black_box(ctx) as *const AuthContext as usize & 1) as u32;
            }
            n
        })
    });
    g.finish();
}

/// Guards per batch in `guard_batched` (every caller allowed, like `bit_test/allowed`).
const BATCH: usize = 1024;

fn verify(c: &mut Criterion) {
    let claims = claims();
    let hs = Verifier::with_secret(
        VerifierConfig::new("bench", "app", Algorithm::HS256),
        SECRET,
    )
    .unwrap();
    let hs_token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();

    let rs = Verifier::with_key(
        VerifierConfig::new("bench", "app", Algorithm::RS256),
        DecodingKey::from_rsa_pem(RSA_PUBLIC).unwrap(),
    )
    .unwrap();
    let rs_token = encode(
        &Header::new(Algorithm::RS256),
        &claims,
        &EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap(),
    )
    .unwrap();

    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .unwrap();
    use ring::signature::KeyPair as _;
    let public = pair.public_key().as_ref();
    let b64 = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    };
    let es = Verifier::with_key(
        VerifierConfig::new("bench", "app", Algorithm::ES256),
        DecodingKey::from_ec_components(&b64(&public[1..33]), &b64(&public[33..])).unwrap(),
    )
    .unwrap();
    let es_token = encode(
        &Header::new(Algorithm::ES256),
        &claims,
        &EncodingKey::from_ec_der(pkcs8.as_ref()),
    )
    .unwrap();

    let mut g = c.benchmark_group("verify_per_request");
    for (name, verifier, token) in [
        ("HS256", &hs, &hs_token),
        ("RS256", &rs, &rs_token),
        ("ES256", &es, &es_token),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let claims = verifier.verify_cached(black_box(token)).unwrap();
                AuthContext::from_claims(claims)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, guard, verify);
criterion_main!(benches);
