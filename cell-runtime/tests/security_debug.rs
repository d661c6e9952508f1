//! `#[Security::pii]`'s `Debug`: personal fields print `[redacted]`, the others as derived.

use cell_runtime::prelude::*;

#[Security::pii(fields = ["email", "ssn"])]
#[derive(Debug, Clone, serde::Serialize)]
struct Patient {
    id: i64,
    email: String,
    ssn: String,
}

#[Security::pii]
struct Contact {
    name: String,
    #[Security::pii]
    phone: String,
}

#[Security::pii]
#[derive(Debug)]
struct Email(String);

#[Security::pii(fields = ["1"])]
struct Pair<T>(T, String);

#[test]
fn personal_fields_are_redacted_from_debug() {
    let p = Patient {
        id: 7,
        email: "ada@example.com".into(),
        ssn: "123-45-6789".into(),
    };
    assert_eq!(
        format!("{p:?}"),
        r#"Patient { id: 7, email: [redacted], ssn: [redacted] }"#
    );
    assert!(!format!("{p:#?}").contains("ada@"));
    let c = Contact {
        name: "Ada".into(),
        phone: "555".into(),
    };
    assert_eq!(
        format!("{c:?}"),
        r#"Contact { name: "Ada", phone: [redacted] }"#
    );
    assert_eq!(
        format!("{:?}", Email("ada@example.com".into())),
        "Email([redacted])"
    );
    assert_eq!(
        format!("{:?}", Pair(1u8, "secret".into())),
        "Pair(1, [redacted])"
    );
    assert_eq!(Patient::__CELL_PII, ["email", "ssn"]);
    assert_eq!(Email::__CELL_PII, ["*"]);
}

#[test]
fn serialization_is_not_changed() {
    let p = Patient {
        id: 7,
        email: "ada@example.com".into(),
        ssn: "1".into(),
    };
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(
        json["email"], "ada@example.com",
        "an API returning it returns it, on purpose"
    );
}
