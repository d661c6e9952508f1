//! The HTTP routes. Guards (auth) and caching wrap these handlers as `axum` layers or
//! extractors once those Cells are in `cells.rs`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use cell_runtime::prelude::*;
use serde::Deserialize;

use crate::cells::AppState;
use crate::model::{NewNote, Note};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/notes", get(list_notes).post(create_note))
        .route("/notes/{id}", get(get_note).delete(delete_note))
        .with_state(state)
}

/// A Cell error as an HTTP response: 500 with the message (the details go to the log).
pub struct ApiError(Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        eprintln!("request failed: {:?}", self.0);
        (StatusCode::INTERNAL_SERVER_ERROR, self.0.to_string()).into_response()
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

async fn create_note(
    State(state): State<AppState>,
    Json(new): Json<NewNote>,
) -> Result<(StatusCode, Json<Note>), ApiError> {
    let note = Note::from(new);
    note.insert(&state.cells.db).await?;
    Ok((StatusCode::CREATED, Json(note)))
}

async fn get_note(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    Ok(match Note::find_by_id(&state.cells.db, &id).await? {
        Some(note) => Json(note).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    })
}

async fn delete_note(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    Ok(if Note::delete_by_id(&state.cells.db, &id).await? {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    })
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, header};
    use tower::ServiceExt;

    use super::*;

    async fn app() -> Router {
        let state = AppState::connect().await.expect("run the tests with `cargo cell test`");
        router(state)
    }

    async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Vec<u8>) {
        let res = app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        (status, to_bytes(res.into_body(), 1 << 20).await.unwrap().to_vec())
    }

    #[tokio::test]
    async fn create_read_delete_a_note() {
        let app = app().await;
        let (status, body) = send(
            &app,
            Request::post("/notes")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"title":"hello","body":"from a test"}"#))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let created: Note = cell_runtime::serde_json::from_slice(&body).unwrap();
        assert_eq!(created.title, "hello");

        let uri = format!("/notes/{}", created.id);
        let (status, body) = send(&app, Request::get(&uri).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        let fetched: Note = cell_runtime::serde_json::from_slice(&body).unwrap();
        assert_eq!(fetched.body, "from a test");

        let (status, _) = send(&app, Request::delete(&uri).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = send(&app, Request::get(&uri).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn health_answers() {
        let (status, body) =
            send(&app().await, Request::get("/health").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    }
}
