//! What a plan may not do to encrypted fields (`#[Postgres::encrypted]`): a column that
//! exists in the clear does not become encrypted by a type change, since a cast would store
//! the plaintext where the program expects ciphertext. Encrypting existing rows is a data
//! migration of its own (not built yet), so the step is refused, whatever the flags.

use crate::declare::TableDecl;

/// Primary-key types an encrypted value can be bound to: their JSON text is the same from
/// Postgres (`to_jsonb`, as key rotation reads it) and from serde (as the program writes).
pub const ROW_KEY_TYPES: &[&str] = &["smallint", "integer", "bigint", "text", "uuid"];
use crate::plan::Step;
use crate::safety::Refusal;

/// The refusals for `steps` (the plan of `decls`).
pub fn refusals(steps: &[Step], decls: &[TableDecl]) -> Vec<Refusal> {
    let encrypted = |table: &str, column: &str| {
        decls
            .iter()
            .filter(|t| t.name == table)
            .flat_map(|t| &t.columns)
            .any(|c| c.name == column && c.encrypted)
    };
    steps
        .iter()
        .enumerate()
        .filter_map(|(step, s)| match s {
            Step::AlterType { table, column, from, .. } if encrypted(table, column) => Some(Refusal {
                step,
                message: format!(
                    "`{table}.{column}` holds {from} values in the clear; turning encryption on for it means encrypting every row, a data migration cargo-cell does not do yet"
                ),
                help: "keep the field in the clear for now (remove #[Postgres::encrypted]), or add a new encrypted field, copy the values into it through the program, then remove the old one".into(),
                overridable: false,
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::fixtures::column;

    #[test]
    fn encrypting_an_existing_column_is_refused() {
        let mut ssn = column("ssn", "bytea");
        ssn.encrypted = true;
        let decls = vec![TableDecl {
            columns: vec![column("id", "bigint"), ssn, column("note", "bytea")],
            ..crate::declare::fixtures::users()[0].clone()
        }];
        let table = decls[0].name.clone();
        let alter = |c: &str| Step::AlterType {
            table: table.clone(),
            column: c.into(),
            from: "text".into(),
            to: "bytea".into(),
        };
        let refused = refusals(&[alter("note"), alter("ssn")], &decls);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].step, 1);
        assert!(!refused[0].overridable);
        assert!(
            refused[0].message.starts_with(&format!(
                "`{table}.ssn` holds text values in the clear; turning encryption on"
            )),
            "{}",
            refused[0].message
        );
    }
}
