//! The HTTP routes. Reading is public; writing needs a token: `#[Auth::require]` checks the
//! caller's roles (a bit test against `.cell/auth.lock.json`) before the handler runs, and
//! answers 401 (no or bad token) or 403 (wrong role) with a JSON body.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use cell_runtime::prelude::*;
use cell_runtime::serde_json::{Value, json};
use serde::Deserialize;

use crate::cells::AppState;
use crate::model::{NewNote, Note};
use crate::notes;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/me", get(me))
        .route("/notes", get(list_notes).post(create_note))
        .route("/notes/{id}", get(get_note).delete(delete_note))
        .with_state(state)
}

/// A failed request: a refused token (401/403, from the guard) or a Cell error (500, the
/// details go to the log).
pub enum ApiError {
    Auth(AuthError),
    Cell(Error),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Cell(e)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Auth(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Auth(e) => e.into_response(),
            ApiError::Cell(e) => {
                eprintln!("request failed: {e:?}");
                (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
            }
        }
    }
}

/// What `/health` and `<bin> health` report.
pub async fn health_report(state: &AppState) -> Result<String, Error> {
    let notes = Note::count(&state.cells.db).await?;
    Ok(format!("ok: postgres answers, {notes} notes"))
}

async fn health(State(state): State<AppState>) -> Result<String, ApiError> {
    Ok(health_report(&state).await?)
}

/// Any caller with a valid token.
#[Auth::protected]
async fn me(ctx: AuthContext) -> Result<Json<Value>, AuthError> {
    Ok(Json(json!({ "sub": ctx.subject(), "roles": ctx.roles() })))
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn default_limit() -> i64 {
    50
}

async fn list_notes(
    State(state): State<AppState>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<Note>>, ApiError> {
    let limit = page.limit.clamp(1, 500);
    Ok(Json(Note::all(&state.cells.db, limit, page.offset.max(0)).await?))
}

/// Writers (and admins) create notes.
#[Auth::require(any = ["writer", "admin"])]
async fn create_note(
    ctx: AuthContext,
    State(state): State<AppState>,
    Json(new): Json<NewNote>,
) -> Result<(StatusCode, Json<Note>), ApiError> {
    let author = ctx.subject().unwrap_or("unknown");
    let note = notes::create(&state.cells.db, new, author).await?;
    Ok((StatusCode::CREATED, Json(note)))
}

async fn get_note(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    Ok(match notes::read(&state.cells.db, id).await? {
        Some(note) => Json(note).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    })
}

/// Admins only.
#[Auth::require(role = "admin")]
async fn delete_note(
    ctx: AuthContext,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let _ = ctx;
    Ok(if notes::delete(&state.cells.db, id).await? {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    })
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, header};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tower::ServiceExt;

    use super::*;

    /// One runtime for every test, as in the server. The Redis cache reconnects when the
    /// runtime that opened its connection ends, but pooled HTTP connections (the JWKS
    /// client's) belong to the runtime that opened them: one runtime keeps them all alive.
    fn block_on<F: std::future::Future>(test: F) -> F::Output {
        static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
        RUNTIME.get_or_init(|| tokio::runtime::Runtime::new().unwrap()).block_on(test)
    }

    async fn app() -> Router {
        let state = AppState::connect().await.expect("run the tests with `cargo cell test`");
        router(state)
    }

    /// A token from the Auth Cell's dev token service.
    async fn token(sub: &str, roles: &[&str]) -> String {
        Auth::dev_token(sub, roles).await.expect("the Auth Cell mints tokens (`cargo cell test`)")
    }

    async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Vec<u8>) {
        let res = app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        (status, to_bytes(res.into_body(), 1 << 20).await.unwrap().to_vec())
    }

    fn post_note(token: Option<&str>) -> Request<Body> {
        let mut req = Request::post("/notes").header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        req.body(Body::from(r#"{"title":"hello","body":"from a test"}"#)).unwrap()
    }

    fn with_token(method: &str, uri: &str, token: &str) -> Request<Body> {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    }

    #[test]
    fn guarded_routes_need_a_token_with_the_role() {
        block_on(async {
            let app = app().await;
            let (status, _) = send(&app, post_note(None)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "no token");
            let (status, _) = send(&app, post_note(Some("not-a-token"))).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "a malformed token");
            let reader = token("bob", &["reader"]).await;
            let (status, _) = send(&app, post_note(Some(&reader))).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "a token without the role");

            let writer = token("alice", &["writer"]).await;
            let (status, body) = send(&app, with_token("GET", "/me", &writer)).await;
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
            let me: Value = cell_runtime::serde_json::from_slice(&body).unwrap();
            assert_eq!(me["sub"], "alice");

            let (status, body) = send(&app, post_note(Some(&writer))).await;
            assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
            let created: Note = cell_runtime::serde_json::from_slice(&body).unwrap();
            assert_eq!(created.title, "hello");
            assert_eq!(created.author, "alice");

            // Deleting is for admins.
            let uri = format!("/notes/{}", created.id);
            let (status, _) = send(&app, with_token("DELETE", &uri, &writer)).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            let admin = token("root", &["admin"]).await;
            let (status, _) = send(&app, with_token("DELETE", &uri, &admin)).await;
            assert_eq!(status, StatusCode::NO_CONTENT);
            let (status, _) = send(&app, Request::get(&uri).body(Body::empty()).unwrap()).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "the cached entry went with the row");
        })
    }

    #[test]
    fn a_read_is_cached_in_redis() {
        block_on(async {
            let app = app().await;
            let writer = token("carol", &["writer"]).await;
            let (status, body) = send(&app, post_note(Some(&writer))).await;
            assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
            let created: Note = cell_runtime::serde_json::from_slice(&body).unwrap();
            let uri = format!("/notes/{}", created.id);

            let before = cell_runtime::cache::stats();
            for _ in 0..2 {
                let (status, body) = send(&app, Request::get(&uri).body(Body::empty()).unwrap()).await;
                assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
                let fetched: Note = cell_runtime::serde_json::from_slice(&body).unwrap();
                assert_eq!((fetched.id, fetched.body.as_str()), (created.id, "from a test"));
                // The POST answered with the row as stored, at the database's precision.
                assert_eq!(fetched.created_at, created.created_at, "POST and GET agree");
            }
            let after = cell_runtime::cache::stats();
            assert_eq!(after.degraded, before.degraded, "Redis answered: {after:?}");
            assert!(after.hits > before.hits, "the second read came from Redis: {after:?}");
        })
    }

    /// A plain HTTP/1.0 GET on 127.0.0.1 (no HTTP client needed for two requests).
    async fn http_get(port: u16, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[test]
    fn metrics_are_served_and_prometheus_runs() {
        block_on(async {
            // /metrics on a free port of this test process (the configured one may be taken).
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            cell_runtime::telemetry::serve_metrics(([127, 0, 0, 1], port).into()).unwrap();
            let app = app().await;
            let writer = token("dave", &["writer"]).await;
            let (status, _) = send(&app, post_note(Some(&writer))).await;
            assert_eq!(status, StatusCode::CREATED);
            let metrics = http_get(port, "/metrics").await;
            assert!(metrics.contains("notes_created_total"), "{metrics}");
            assert!(metrics.contains("note_create_seconds"), "{metrics}");

            // The Telemetry Cell: `cargo cell test` passes Prometheus's address.
            let prometheus = std::env::var("CELL_PROMETHEUS_URL").expect("run with `cargo cell test`");
            let port: u16 = prometheus.rsplit(':').next().unwrap().parse().unwrap();
            let ready = http_get(port, "/-/ready").await;
            assert!(ready.starts_with("HTTP/1.0 200") || ready.starts_with("HTTP/1.1 200"), "{ready}");
        })
    }

    #[test]
    fn health_answers() {
        block_on(async {
            let (status, body) =
                send(&app().await, Request::get("/health").body(Body::empty()).unwrap()).await;
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        })
    }
}
