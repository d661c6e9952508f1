use cell_runtime::prelude::*;

#[Postgres::table(name = "products")]
#[Search::index(fields = ["name"], ranking = "bm25")]
pub struct Product {
    #[Postgres::primary_key]
    pub id: Uuid,
    pub name: String,
}

fn main() {}
