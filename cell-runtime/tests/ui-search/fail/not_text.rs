use cell_runtime::prelude::*;

#[Postgres::table(name = "products")]
#[Search::index(fields = ["name", "price"])]
pub struct Product {
    #[Postgres::primary_key]
    pub id: Uuid,
    pub name: String,
    pub price: i64,
}

fn main() {}
