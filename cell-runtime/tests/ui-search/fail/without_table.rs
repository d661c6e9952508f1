use cell_runtime::prelude::*;

#[Search::index(fields = ["name"])]
pub struct Product {
    pub name: String,
}

fn main() {}
