// The batch writes of a cached table keep their signatures: the Redis Cell wraps upsert,
// upsert_on_<unique>, update_where and delete_where to invalidate after commit.
#![deny(warnings)]

use cell_runtime::prelude::*;

#[Postgres::table]
#[Redis::cache(ttl = "1h")]
struct Product {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::unique]
    #[Redis::cache_key]
    sku: String,
    #[Postgres::unique]
    barcode: String,
    price: i32,
}

async fn exercise(rows: Vec<Product>) -> Result<(), Error> {
    let db = PostgresConnection::connect().await?;
    let p = &rows[0];
    let _: Product = p.upsert(&db).await?;
    let _: Product = p.upsert_on_sku(&db).await?;
    let _: Product = p.upsert_on_barcode(&db).await?;
    let _: u64 = Product::insert_many(&db, &rows).await?;
    let c = Product::columns();
    let _: u64 = Product::update_where(&db, c.price.lt(10), c.price.set(10)).await?;
    let _: u64 = Product::delete_where(&db, c.sku.eq("old")).await?;
    Ok(())
}

fn assert_send<F: Future<Output = Result<(), Error>> + Send>(future: F) -> F {
    future
}

fn main() {
    drop(assert_send(exercise(Vec::new())));
}
