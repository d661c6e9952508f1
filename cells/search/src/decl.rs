//! What a `#[Search::index]` declares, and the SQL it stands for: the generated column's
//! expression, the index names, and the ranked query of `search`.

use cell_core::sql::{literal, quote, truncate};
use serde::{Deserialize, Serialize};

use crate::VECTOR_COLUMN;

/// The text search configurations every Postgres server has (`\dF` on a fresh server).
pub const LANGUAGES: &[&str] = &[
    "simple",
    "arabic",
    "armenian",
    "basque",
    "catalan",
    "danish",
    "dutch",
    "english",
    "finnish",
    "french",
    "german",
    "greek",
    "hindi",
    "hungarian",
    "indonesian",
    "irish",
    "italian",
    "lithuanian",
    "nepali",
    "norwegian",
    "portuguese",
    "romanian",
    "russian",
    "serbian",
    "spanish",
    "swedish",
    "tamil",
    "turkish",
    "yiddish",
];

/// `ts_headline`'s options for `search_highlighted`: up to two fragments around the
/// matches, each between the default `<b>` and `</b>`.
pub const HEADLINE_OPTIONS: &str = "MaxFragments=2, MinWords=5, MaxWords=20";

/// One `#[Search::index]`, as recorded in the table's declaration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchDecl {
    /// The text columns searched, in the order written.
    pub fields: Vec<String>,
    /// One weight per field.
    pub weights: Vec<Weight>,
    /// The text search configuration (`english`, `simple`, ...).
    pub language: String,
    /// Typo-tolerant matching through `pg_trgm` trigram indexes on every field.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fuzzy: bool,
}

/// A field's weight in the ranking: `A` counts most, `D` least (`setweight`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Weight {
    A,
    B,
    C,
    D,
}

impl Weight {
    pub fn parse(text: &str) -> Option<Weight> {
        match text {
            "A" | "a" => Some(Weight::A),
            "B" | "b" => Some(Weight::B),
            "C" | "c" => Some(Weight::C),
            "D" | "d" => Some(Weight::D),
            _ => None,
        }
    }

    pub fn letter(self) -> char {
        match self {
            Weight::A => 'A',
            Weight::B => 'B',
            Weight::C => 'C',
            Weight::D => 'D',
        }
    }

    /// Without `weights = [...]`: the fields in order of importance, `A`, `B`, `C`, then
    /// `D` for the rest.
    pub fn by_position(n: usize) -> Weight {
        [Weight::A, Weight::B, Weight::C]
            .get(n)
            .copied()
            .unwrap_or(Weight::D)
    }
}

impl SearchDecl {
    /// The generated column's expression: each field's `tsvector`, weighted, concatenated.
    /// `coalesce` keeps a NULL field from making the whole document NULL; the
    /// configuration is a literal, so the expression is immutable as a generated column
    /// needs.
    pub fn vector_sql(&self) -> String {
        let lang = literal(&self.language);
        self.fields
            .iter()
            .zip(&self.weights)
            .map(|(f, w)| {
                format!(
                    "setweight(to_tsvector({lang}, coalesce({}, '')), '{}')",
                    quote(f),
                    w.letter()
                )
            })
            .collect::<Vec<_>>()
            .join(" || ")
    }

    /// The GIN index over the generated column.
    pub fn index_name(table: &str) -> String {
        truncate(format!("{table}_{VECTOR_COLUMN}_idx"))
    }

    /// The trigram index of one field (`fuzzy = true`).
    pub fn trigram_index_name(table: &str, field: &str) -> String {
        truncate(format!("{table}_{field}_trgm_idx"))
    }

    /// The document as one text, for `ts_headline`.
    fn document_sql(&self) -> String {
        let fields: Vec<String> = self.fields.iter().map(|f| quote(f)).collect();
        format!("concat_ws(' ', {})", fields.join(", "))
    }

    /// The query of `search` (and, with `highlight`, `search_highlighted`): `$1` the user's
    /// text in web search syntax (`"a phrase"`, `-word`, `or`), `$2` the limit, `$3` the
    /// offset. The columns of `select_list` come first, then the rank (`real`), then the
    /// snippet. Best first; ties in primary key order, so pages are stable.
    ///
    /// With `fuzzy`, a query no row matches in full text falls back to trigram word
    /// similarity (`pg_trgm.word_similarity_threshold`): a typo still finds its rows, and a
    /// query that does match keeps its exact meaning (an `-exclusion` is never undone by a
    /// similar word). Each branch is a plain indexed scan: the GIN index of the vector, or
    /// the trigram indexes of the fields.
    pub fn query_sql(
        &self,
        table: &str,
        select_list: &str,
        primary_key: &str,
        highlight: bool,
    ) -> String {
        let t = quote(table);
        let v = quote(VECTOR_COLUMN);
        let lang = literal(&self.language);
        let q = format!("websearch_to_tsquery({lang}, $1)");
        let snippet = if highlight {
            format!(
                ", ts_headline({lang}, {}, {q}, {})",
                self.document_sql(),
                literal(HEADLINE_OPTIONS)
            )
        } else {
            String::new()
        };
        let exact = format!(
            "SELECT {select_list}, ts_rank_cd({v}, {q}) AS cell_rank{snippet} FROM {t} WHERE {v} @@ {q}"
        );
        let order = format!(
            "ORDER BY cell_rank DESC, {} LIMIT $2 OFFSET $3",
            quote(primary_key)
        );
        if !self.fuzzy {
            return format!("{exact} {order}");
        }
        let similar: Vec<String> = self
            .fields
            .iter()
            .map(|f| format!("word_similarity($1, {})", quote(f)))
            .collect();
        let close: Vec<String> = self
            .fields
            .iter()
            .map(|f| format!("$1 <% {}", quote(f)))
            .collect();
        format!(
            "{exact} UNION ALL SELECT {select_list}, greatest({}) AS cell_rank{snippet} FROM {t} WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE {v} @@ {q}) AND ({}) {order}",
            similar.join(", "),
            close.join(" OR ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn products(fuzzy: bool) -> SearchDecl {
        SearchDecl {
            fields: vec!["name".into(), "description".into()],
            weights: vec![Weight::A, Weight::B],
            language: "english".into(),
            fuzzy,
        }
    }

    #[test]
    fn the_vector_weights_every_field_and_survives_nulls() {
        assert_eq!(
            products(false).vector_sql(),
            "setweight(to_tsvector('english', coalesce(\"name\", '')), 'A') || setweight(to_tsvector('english', coalesce(\"description\", '')), 'B')"
        );
    }

    #[test]
    fn the_query_ranks_matches_and_pages_in_a_stable_order() {
        let sql = products(false).query_sql("products", "\"id\", \"name\"", "id", false);
        assert_eq!(
            sql,
            "SELECT \"id\", \"name\", ts_rank_cd(\"search_vector\", websearch_to_tsquery('english', $1)) AS cell_rank FROM \"products\" WHERE \"search_vector\" @@ websearch_to_tsquery('english', $1) ORDER BY cell_rank DESC, \"id\" LIMIT $2 OFFSET $3"
        );
        let highlighted = products(false).query_sql("products", "\"id\"", "id", true);
        assert!(
            highlighted.contains(
                "ts_headline('english', concat_ws(' ', \"name\", \"description\"), websearch_to_tsquery('english', $1), 'MaxFragments=2, MinWords=5, MaxWords=20')"
            ),
            "{highlighted}"
        );
    }

    #[test]
    fn fuzzy_falls_back_to_close_words_only_when_nothing_matches() {
        let sql = products(true).query_sql("products", "\"id\"", "id", false);
        assert!(
            sql.contains(
                "UNION ALL SELECT \"id\", greatest(word_similarity($1, \"name\"), word_similarity($1, \"description\")) AS cell_rank FROM \"products\" WHERE NOT EXISTS (SELECT 1 FROM \"products\" WHERE \"search_vector\" @@ websearch_to_tsquery('english', $1)) AND ($1 <% \"name\" OR $1 <% \"description\")"
            ),
            "{sql}"
        );
        assert!(
            sql.ends_with("ORDER BY cell_rank DESC, \"id\" LIMIT $2 OFFSET $3"),
            "{sql}"
        );
    }

    #[test]
    fn weights_default_by_position_and_names_fit_postgres() {
        assert_eq!(Weight::by_position(0), Weight::A);
        assert_eq!(Weight::by_position(2), Weight::C);
        assert_eq!(Weight::by_position(7), Weight::D);
        assert_eq!(Weight::parse("b"), Some(Weight::B));
        assert_eq!(Weight::parse("E"), None);
        assert_eq!(
            SearchDecl::index_name("products"),
            "products_search_vector_idx"
        );
        assert_eq!(SearchDecl::index_name(&"t".repeat(70)).len(), 63);
    }

    #[test]
    fn a_declaration_round_trips_through_json() {
        let d = products(true);
        let text = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<SearchDecl>(&text).unwrap(), d);
        let plain = serde_json::to_string(&products(false)).unwrap();
        assert!(!plain.contains("fuzzy"), "{plain}");
    }
}
