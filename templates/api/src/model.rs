//! The table. `cargo cell build` creates and migrates it; the generated API (`insert`,
//! `find_by_id`, `all`, `count`, ...) is checked against `.cell/postgres.lock.json`.
//! `#[Redis::cache]` makes `find_by_id` read through the Redis Cell (`update` and `delete`
//! invalidate the entry).

use cell_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[Postgres::table(name = "notes")]
#[Redis::cache(ttl = "10m")]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note {
    #[Postgres::primary_key]
    pub id: Uuid,
    #[Postgres::index]
    pub title: String,
    pub body: String,
    /// Who wrote it (the token's subject).
    pub author: String,
    #[Postgres::default("NOW()")]
    pub created_at: DateTime<Utc>,
}

/// What a client sends to create a note.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewNote {
    pub title: String,
    pub body: String,
}

impl Note {
    pub fn new(new: NewNote, author: &str) -> Note {
        Note {
            id: Uuid::new_v4(),
            title: new.title,
            body: new.body,
            author: author.to_string(),
            created_at: Utc::now(),
        }
    }
}
