// Enums, table-level indexes (composite, unique, descending), checks on the struct (above and
// below #[Postgres::table]) and on fields, renames: all compile, without warnings, and give
// the generated finders for table-level indexes. `main` builds the futures, never polls them.
#![deny(warnings)]

use cell_runtime::prelude::*;

/// `order_status` with the labels `pending`, `in_transit`, `done`.
#[derive(Postgres::Enum, Debug, Clone, Copy, PartialEq, Eq)]
enum OrderStatus {
    Pending,
    InTransit,
    #[postgres(name = "done")]
    Delivered,
}

/// Named explicitly.
#[derive(Postgres::Enum, Debug)]
#[postgres(name = "priority_level")]
enum Priority {
    Low,
    High,
}

#[Postgres::check("price >= 0")]
#[Postgres::table(
    name = "orders",
    indexes = [
        ("org_id", "email", unique = true),
        ("created_at", descending = true),
        ("org_id", "created_at", descending = ["created_at"]),
        ("status", "priority"),
    ]
)]
#[Postgres::renamed_from("purchases")]
#[Postgres::check("length(email) > 3")]
#[derive(Debug)]
struct Order {
    #[Postgres::primary_key]
    id: Uuid,
    org_id: Uuid,
    #[Postgres::varchar(320)]
    email: String,
    #[Postgres::check("quantity > 0")]
    #[Postgres::renamed_from("qty")]
    quantity: i32,
    price: Decimal,
    #[Postgres::default("NOW()")]
    created_at: DateTime<Utc>,
    #[Postgres::index]
    status: OrderStatus,
    priority: Option<Priority>,
}

async fn exercise() -> Result<(), Error> {
    let db = &PostgresConnection::connect().await?;
    let order = Order {
        id: Uuid::new_v4(),
        org_id: Uuid::new_v4(),
        email: "ada@example.com".into(),
        quantity: 1,
        price: Decimal::new(1999, 2),
        created_at: Utc::now(),
        status: OrderStatus::Pending,
        priority: Some(Priority::High),
    };
    order.insert(db).await?;
    // A composite unique index finds one row; a non-unique one every matching row.
    let _: Option<Order> = Order::find_by_org_id_and_email(db, &order.org_id, "ada@example.com").await?;
    let _: Vec<Order> = Order::find_by_created_at(db, &order.created_at).await?;
    let _: Vec<Order> = Order::find_by_org_id_and_created_at(db, &order.org_id, &order.created_at).await?;
    let _: Vec<Order> = Order::find_by_status_and_priority(db, &OrderStatus::InTransit, &None).await?;
    // An indexed enum field has its own finder.
    let _: Vec<Order> = Order::find_by_status(db, &OrderStatus::Delivered).await?;
    let _: Option<Order> = order.update(db).await?;
    let _: bool = Order::delete_by_id(db, &order.id).await?;
    Ok(())
}

fn assert_send<F: Future<Output = Result<(), Error>> + Send>(future: F) -> F {
    future
}

fn main() {
    use cell_runtime::__private::PostgresEnum;
    assert_eq!(<OrderStatus as PostgresEnum>::NAME, "order_status");
    assert_eq!(
        <OrderStatus as PostgresEnum>::LABELS,
        ["pending", "in_transit", "done"]
    );
    assert_eq!(<Priority as PostgresEnum>::NAME, "priority_level");
    assert_eq!(Order::TABLE, "orders");
    assert_eq!(Order::COLUMNS.len(), 8);
    drop(assert_send(exercise()));
}
