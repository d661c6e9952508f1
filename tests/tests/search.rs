//! `#[Search::index]` through cargo-cell against a real Postgres Cell, checked with psql:
//!
//! - added to a table that already holds 10,004 rows: the plan shows the extension, the
//!   generated column (saying it rewrites the rows under an ACCESS EXCLUSIVE lock, with
//!   their count) and the indexes; `cargo cell build` applies it; a second plan is empty;
//! - the generated `search` finds the planted rows first for queries with known answers:
//!   a phrase, an `-exclusion`, an `or`, the weights, and a typo (`fuzzy = true`);
//! - `EXPLAIN ANALYZE` of the exact statement `search` runs uses the GIN index;
//! - on a server without `pg_trgm`, `fuzzy = true` is refused (exit 4) before any change.

use cell_e2e::{App, docker_available};
use cell_search::{SearchDecl, Weight};

/// The rows with known answers, among 10,000 others that match none of the queries.
const PLANTED: &str = "INSERT INTO products (id, name, description) VALUES
 (gen_random_uuid(), 'Stainless steel chef knife', 'A sharp kitchen knife forged from Japanese steel'),
 (gen_random_uuid(), 'Ceramic chef knife', 'Lightweight ceramic blade that never rusts'),
 (gen_random_uuid(), 'Bread knife', 'Serrated steel blade for crusty loaves'),
 (gen_random_uuid(), 'Cast iron skillet', 'Heavy pan for searing and baking'),
 (gen_random_uuid(), 'Paring tool', NULL)";

const FILLER: &str = "INSERT INTO products (id, name, description)
 SELECT gen_random_uuid(), 'Item ' || g,
        (ARRAY['blue widget', 'green gadget', 'small part', 'large box', NULL])[1 + g % 5]
 FROM generate_series(1, 10000) AS g";

/// A shell command as root in a container of this test.
fn docker_sh(container: &str, script: &str) {
    let out = std::process::Command::new("docker")
        .args(["exec", "-u", "0", container, "sh", "-c", script])
        .output()
        .expect("docker exec");
    assert!(
        out.status.success(),
        "`{script}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn search(app: &App, queries: &[&str]) -> Vec<serde_json::Value> {
    let mut cmd = app.program(&cell_e2e::apps_target_dir().join("debug").join("search-app"));
    cmd.args(queries);
    let out = cmd.output().expect("the app runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn names(v: &serde_json::Value) -> Vec<String> {
    v["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn search_index_added_to_a_populated_table_then_ranked_queries() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("search-app");
    app.cargo_cell(&["build"]).assert_success();
    app.psql(FILLER);
    app.psql(PLANTED);
    app.psql("ANALYZE products");
    assert_eq!(app.psql("SELECT count(*) FROM products"), "10005");

    app.write("src/main.rs", &app.read("src/with_search.rs"));

    // A server without pg_trgm (its control file moved away, as on a build without the
    // contrib modules): `fuzzy = true` is refused before anything changes, with help.
    let container = app.cell_container("postgres");
    let control = "$(find / -name pg_trgm.control -path '*extension*' 2>/dev/null | head -1)";
    docker_sh(
        &container,
        &format!("f={control}; mv \"$f\" /tmp/pg_trgm.control && echo \"$f\" > /tmp/pg_trgm.path"),
    );
    let refused = app.cargo_cell(&["plan"]);
    let out = refused.output();
    assert_eq!(refused.status.code(), Some(4), "refused:\n{out}");
    assert!(out.contains("cell::postgres::extension"), "{out}");
    // (miette wraps the report to the terminal's width: fragments.)
    assert!(
        out.contains("`products` (struct `Product`) needs the Postgres extension `pg_trgm`,"),
        "{out}"
    );
    assert!(out.contains("which this server does not have"), "{out}");
    assert!(out.contains("or remove `fuzzy = true`"), "{out}");
    assert_eq!(
        app.psql("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'"),
        "0"
    );
    docker_sh(
        &container,
        "mv /tmp/pg_trgm.control \"$(cat /tmp/pg_trgm.path)\"",
    );
    let plan = app.cargo_cell(&["plan", "--detailed-exitcode"]);
    let out = plan.output();
    assert_eq!(plan.status.code(), Some(2), "a change exits 2:\n{out}");
    assert!(out.contains("+ extension pg_trgm"), "{out}");
    assert!(
        // The expression as Postgres normalised it (and will store it).
        out.contains("+ column products.search_vector tsvector GENERATED ALWAYS AS ((setweight(to_tsvector('english'::regconfig, COALESCE(name, ''::text)), 'A'::\"char\") || setweight(to_tsvector('english'::regconfig, COALESCE(description, ''::text)), 'B'::\"char\"))) STORED"),
        "{out}"
    );
    assert!(
        out.contains("10005 rows are rewritten to compute it, under an ACCESS EXCLUSIVE lock"),
        "{out}"
    );
    assert!(
        out.contains("+ index products_search_vector_idx on products using gin (search_vector)"),
        "{out}"
    );
    assert!(
        out.contains("+ index products_name_trgm_idx on products using gin (name gin_trgm_ops)"),
        "{out}"
    );

    app.cargo_cell(&["build"]).assert_success();
    // What landed, as Postgres reports it.
    assert_eq!(
        app.psql("SELECT attgenerated FROM pg_attribute WHERE attrelid = 'products'::regclass AND attname = 'search_vector'"),
        "s"
    );
    assert_eq!(
        app.psql("SELECT indexname FROM pg_indexes WHERE tablename = 'products' AND indexdef LIKE '%USING gin%' ORDER BY 1"),
        "products_description_trgm_idx\nproducts_name_trgm_idx\nproducts_search_vector_idx"
    );
    assert_eq!(
        app.psql("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'"),
        "1"
    );
    let lock: serde_json::Value =
        serde_json::from_str(&app.read(".cell/postgres.lock.json")).unwrap();
    let generated = lock["tables"]["products"]["columns"]["search_vector"]["generated"]
        .as_str()
        .unwrap_or_else(|| panic!("{lock}"));
    assert!(
        generated.contains("to_tsvector('english'::regconfig"),
        "{generated}"
    );
    assert_eq!(lock["extensions"], serde_json::json!(["pg_trgm"]), "{lock}");

    let again = app.cargo_cell(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "a second plan is empty:\n{}",
        again.output()
    );

    let found = search(
        &app,
        &[
            "\"chef knife\"",
            "knife -ceramic",
            "skillet or rusts",
            "steel",
            "skilet",
            "widget",
            "nothing matches this",
        ],
    );
    // A phrase: both chef knives, not the bread knife.
    let mut phrase = names(&found[0]);
    phrase.sort();
    assert_eq!(
        phrase,
        ["Ceramic chef knife", "Stainless steel chef knife"],
        "{}",
        found[0]
    );
    // An exclusion.
    let mut excluded = names(&found[1]);
    excluded.sort();
    assert_eq!(
        excluded,
        ["Bread knife", "Stainless steel chef knife"],
        "{}",
        found[1]
    );
    // `or`.
    let mut either = names(&found[2]);
    either.sort();
    assert_eq!(
        either,
        ["Cast iron skillet", "Ceramic chef knife"],
        "{}",
        found[2]
    );
    // Weights: `steel` in a name (A) ranks above `steel` in a description (B) only.
    assert_eq!(
        names(&found[3]),
        ["Stainless steel chef knife", "Bread knife"],
        "{}",
        found[3]
    );
    let ranks = found[3]["ranks"].as_array().unwrap();
    assert!(ranks[0].as_f64() > ranks[1].as_f64(), "{}", found[3]);
    // A typo, through the trigram indexes.
    assert_eq!(
        names(&found[4]).first().map(String::as_str),
        Some("Cast iron skillet"),
        "{}",
        found[4]
    );
    // 2,000 filler rows say `blue widget`: a page of five, all of them hits.
    assert_eq!(names(&found[5]).len(), 5, "{}", found[5]);
    assert!(names(&found[6]).is_empty(), "{}", found[6]);
    // Snippets come from search_highlighted only, with the matched words marked.
    assert_eq!(
        found[3]["snippets"],
        serde_json::json!([false, false]),
        "{}",
        found[3]
    );
    let snippet = found[3]["snippet"].as_str().unwrap();
    assert!(snippet.contains("<b>steel</b>"), "{snippet}");

    // The statement `search` runs, prepared and explained: a selective query reads the GIN
    // index.
    let decl = SearchDecl {
        fields: vec!["name".into(), "description".into()],
        weights: vec![Weight::A, Weight::B],
        language: "english".into(),
        fuzzy: true,
    };
    let sql = decl.query_sql("products", "\"id\", \"name\", \"description\"", "id", false);
    let explained = app.psql(&format!(
        "PREPARE s(text, bigint, bigint) AS {sql}; EXPLAIN ANALYZE EXECUTE s('skillet', 5, 0)"
    ));
    assert!(
        explained.contains("Bitmap Index Scan on products_search_vector_idx"),
        "{explained}"
    );
}
