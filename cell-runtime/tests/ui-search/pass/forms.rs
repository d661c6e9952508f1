use cell_runtime::prelude::*;

// Below the table attribute, every key.
#[Postgres::table(name = "products")]
#[Search::index(fields = ["name", "description"], language = "english", weights = ["A", "B"], fuzzy = true)]
pub struct Product {
    #[Postgres::primary_key]
    pub id: Uuid,
    pub name: String,
    #[Postgres::varchar(2000)]
    pub description: Option<String>,
    pub price: i64,
}

// Above it, only the fields; with a Redis cache and checks.
#[Search::index(fields = ["title"])]
#[Redis::cache(ttl = "1h")]
#[Postgres::table(name = "articles")]
#[Postgres::check("length(title) > 0")]
pub struct Article {
    #[Postgres::primary_key]
    pub id: i64,
    pub title: String,
}

// Inside a traced function, like any generated method.
#[Telemetry::span]
async fn find(db: &PostgresConnection, q: &str) -> Result<Vec<String>, Error> {
    let products: Vec<Search::Hit<Product>> = Product::search(db, q, 10, 0).await?;
    let articles = Article::search_highlighted(db, q, 10, 0).await?;
    let by_id = Article::find_by_id(db, &1).await?;
    let _ = by_id;
    Ok(products
        .into_iter()
        .map(|h| format!("{} {}", h.row.name, h.rank))
        .chain(articles.into_iter().filter_map(|h| h.snippet))
        .collect())
}

fn main() {
    let _ = find;
}
