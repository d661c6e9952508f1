//! Values of the mapped types through tokio-postgres' wire encoding, without a database:
//! what the generated CRUD binds must be accepted for the column's type and read back equal.

use bytes::BytesMut;
use cell_runtime::prelude::*;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type};

#[derive(Postgres::Enum, Debug, Clone, Copy, PartialEq, Eq)]
enum OrderStatus {
    Pending,
    InTransit,
    #[postgres(name = "done")]
    Delivered,
}

fn enum_type(name: &str, labels: &[&str]) -> Type {
    Type::new(
        name.into(),
        0,
        Kind::Enum(labels.iter().map(|l| l.to_string()).collect()),
        "public".into(),
    )
}

fn round_trip<T>(value: &T, ty: &Type) -> T
where
    T: ToSql + for<'a> FromSql<'a>,
{
    let mut buf = BytesMut::new();
    let is_null = value.to_sql_checked(ty, &mut buf).expect("encodes");
    assert!(matches!(is_null, IsNull::No));
    T::from_sql(ty, &buf).expect("decodes")
}

#[test]
fn enums_travel_as_their_labels() {
    let ty = enum_type("order_status", &["pending", "in_transit", "done"]);
    for value in [
        OrderStatus::Pending,
        OrderStatus::InTransit,
        OrderStatus::Delivered,
    ] {
        assert_eq!(round_trip(&value, &ty), value);
    }
    let mut buf = BytesMut::new();
    OrderStatus::Delivered
        .to_sql_checked(&ty, &mut buf)
        .unwrap();
    assert_eq!(&buf[..], b"done");
}

#[test]
fn enums_accept_only_their_own_type() {
    assert!(<OrderStatus as ToSql>::accepts(&enum_type(
        "order_status",
        &[]
    )));
    assert!(<OrderStatus as FromSql>::accepts(&enum_type(
        "order_status",
        &[]
    )));
    assert!(!<OrderStatus as ToSql>::accepts(&enum_type("mood", &[])));
    assert!(!<OrderStatus as ToSql>::accepts(&Type::TEXT));
    // So the wrong column is a type error at the query, not a silent text write.
    let mut buf = BytesMut::new();
    assert!(
        OrderStatus::Pending
            .to_sql_checked(&Type::TEXT, &mut buf)
            .is_err()
    );
    // Arrays of the enum go through tokio-postgres' `Vec<T>` support.
    let array = Type::new(
        "_order_status".into(),
        0,
        Kind::Array(enum_type("order_status", &[])),
        "public".into(),
    );
    assert!(<Vec<OrderStatus> as ToSql>::accepts(&array));
}

#[test]
fn an_unknown_label_names_the_fix() {
    let ty = enum_type("order_status", &["pending", "lost"]);
    let err = OrderStatus::from_sql(&ty, b"lost").unwrap_err().to_string();
    assert!(
        err.contains("`lost`") && err.contains("`OrderStatus`"),
        "{err}"
    );
    assert!(err.contains("cargo cell build"), "{err}");
}

#[test]
fn decimal_is_numeric_and_varchar_is_a_string() {
    let d: Decimal = "12345.6789".parse().unwrap();
    assert_eq!(round_trip(&d, &Type::NUMERIC), d);
    assert!(<Decimal as ToSql>::accepts(&Type::NUMERIC));
    let s = "ada".to_string();
    assert_eq!(round_trip(&s, &Type::VARCHAR), s);
    let t = NaiveTime::from_hms_opt(12, 30, 5).unwrap();
    assert_eq!(round_trip(&t, &Type::TIME), t);
}

#[test]
fn the_derive_records_name_and_labels() {
    use cell_runtime::__private::PostgresEnum;
    assert_eq!(<OrderStatus as PostgresEnum>::NAME, "order_status");
    assert_eq!(
        <OrderStatus as PostgresEnum>::LABELS,
        ["pending", "in_transit", "done"]
    );
}
