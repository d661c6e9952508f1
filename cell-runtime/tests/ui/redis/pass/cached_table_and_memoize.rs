use cell_runtime::prelude::*;

// Either order of the two attributes.
#[Postgres::table]
#[Redis::cache(ttl = "1h")]
struct Product {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::unique]
    #[Redis::cache_key]
    sku: String,
    price: i32,
    note: Option<String>,
}

#[Redis::cache(ttl = "10m")]
#[derive(Debug, Clone)]
#[Postgres::table(name = "tags")]
struct Tag {
    #[Postgres::primary_key]
    id: Uuid,
    created: DateTime<Utc>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct User {
    id: i64,
    name: String,
}

#[Cache::memoize(ttl = "5m", tags = ["user:{id}", "all"], stale_while_revalidate = "1h")]
async fn get_user(id: i64, name: &str) -> Result<User, Error> {
    if id < 0 {
        return Ok(User { id: 0, name: String::new() });
    }
    Ok(User { id, name: name.to_string() })
}

#[Performance::cache(ttl = "30s")]
pub async fn count(word: String) -> usize {
    word.len()
}

struct Service;

impl Service {
    #[Cache::memoize(ttl = "1m", tags = ["q:{q}"])]
    async fn search(&self, q: &str) -> Result<Vec<String>, Error> {
        Ok(vec![q.to_string()])
    }
}

async fn use_it(db: &PostgresConnection) -> Result<(), Error> {
    let p: Option<Product> = Product::find_by_id(db, &1).await?;
    let _ = Product::find_by_sku(db, "a").await?;
    if let Some(p) = p {
        p.update(db).await?;
        p.delete(db).await?;
    }
    Product::delete_by_id(db, &2).await?;
    let t: Option<Tag> = Tag::find_by_id(db, &Uuid::nil()).await?;
    let _ = t.map(|t| t.created);
    let _: User = get_user(1, "a").await?;
    let _: usize = count("x".into()).await;
    let _ = Service.search("q").await?;
    let _ = cell_runtime::cache::invalidate_tag("user:1").await;
    let _ = cell_runtime::cache::stats();
    Ok(())
}

fn main() {
    let _ = use_it;
}
