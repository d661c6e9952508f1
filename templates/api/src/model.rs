//! The tables. `cargo cell build` creates and migrates them; the generated API (`insert`,
//! `find_by_id`, `all`, `count`, ...) is checked against `.cell/postgres.lock.json`.

use cell_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[Postgres::table(name = "notes")]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note {
    #[Postgres::primary_key]
    pub id: Uuid,
    #[Postgres::index]
    pub title: String,
    pub body: String,
    #[Postgres::default("NOW()")]
    pub created_at: DateTime<Utc>,
}

/// What a client sends to create a note.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewNote {
    pub title: String,
    pub body: String,
}

impl From<NewNote> for Note {
    fn from(n: NewNote) -> Note {
        Note { id: Uuid::new_v4(), title: n.title, body: n.body, created_at: Utc::now() }
    }
}
