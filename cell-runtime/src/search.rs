//! What `#[Search::index]`'s generated `search` returns.

use crate::__private::{FromRow, Row};
use crate::Error;

/// One row found by a generated `search`, with how well it matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<T> {
    pub row: T,
    /// `ts_rank_cd` of the row's document against the query, higher is better (for a
    /// `fuzzy = true` fallback, the best trigram word similarity of its fields, 0 to 1).
    pub rank: f32,
    /// From `search_highlighted`: the fields around the matches, each matched word between
    /// `<b>` and `</b>` (`ts_headline`). `None` from `search`.
    pub snippet: Option<String>,
}

/// Reads a hit: the row's columns (as its `FromRow` reads them), then the rank at
/// `rank_at`, then the snippet.
#[doc(hidden)]
pub fn hit<T: FromRow>(row: &Row, rank_at: usize, snippet: bool) -> Result<Hit<T>, Error> {
    Ok(Hit {
        row: T::from_row(row)?,
        rank: row.try_get(rank_at)?,
        snippet: if snippet {
            row.try_get(rank_at + 1)?
        } else {
            None
        },
    })
}
