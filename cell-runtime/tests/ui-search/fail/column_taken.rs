use cell_runtime::prelude::*;

#[Postgres::table(name = "products")]
#[Search::index(fields = ["name"])]
pub struct Product {
    #[Postgres::primary_key]
    pub id: Uuid,
    pub name: String,
    pub search_vector: String,
}

fn main() {}
