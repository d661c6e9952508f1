use cell_runtime::prelude::*;

#[Postgres::table(name = "products")]
#[Search::index(fields = ["name"])]
#[Search::index(fields = ["description"])]
pub struct Product {
    #[Postgres::primary_key]
    pub id: Uuid,
    pub name: String,
    pub description: String,
}

fn main() {}
