use cell_runtime::prelude::*;

#[Postgres::table(name = "products")]
#[Search::index(fields = ["name", "description"], weights = ["A", "E"])]
pub struct Product {
    #[Postgres::primary_key]
    pub id: Uuid,
    pub name: String,
    pub description: String,
}

#[Postgres::table(name = "notes")]
#[Search::index(fields = ["body"], weights = ["A", "B"])]
pub struct Note {
    #[Postgres::primary_key]
    pub id: Uuid,
    pub body: String,
}

fn main() {}
