//! The application's role: what the running program may do in the database, as SQL.
//!
//! Migrations run as the owner (the dev Cell's superuser, or a deployment's owner URL). The
//! program connects as a login role that is a member of the NOLOGIN group role [`APP_ROLE`],
//! which holds exactly [`TABLE_PRIVILEGES`] on the declared tables, [`SEQUENCE_PRIVILEGES`] on
//! their sequences and USAGE on their schema: it owns nothing and may create nothing, so
//! CREATE, DROP, ALTER and TRUNCATE are refused by the database itself.
//!
//! Everything here is pure: the live side reads what is granted ([`GRANTED_SQL`] and the
//! other queries), [`statements`] says what to grant and revoke, and the driver runs it
//! inside the apply's advisory lock after every apply.

use std::collections::{BTreeMap, BTreeSet};

use cell_core::sql::{literal, quote};

/// The group role the application's login roles are members of.
pub const APP_ROLE: &str = "cell_app";
/// The dev Cell's login role for the application (its password is in the state file).
pub const DEV_LOGIN_ROLE: &str = "cell_app_dev";
/// What the application may do to a declared table.
pub const TABLE_PRIVILEGES: [&str; 4] = ["DELETE", "INSERT", "SELECT", "UPDATE"];
/// What the application may do to a declared table's sequences (`nextval` needs USAGE).
pub const SEQUENCE_PRIVILEGES: [&str; 2] = ["SELECT", "USAGE"];
/// What the application may do to the declared tables' schema.
pub const SCHEMA_PRIVILEGES: [&str; 1] = ["USAGE"];

/// An object in a schema: `("public", "users")`.
pub type Object = (String, String);

/// The privileges [`APP_ROLE`] holds now, as the catalogs' ACLs say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Granted {
    /// Tables, views and the like, by (schema, name): privilege names as `aclexplode` gives
    /// them (`SELECT`, `TRUNCATE`, ...).
    pub tables: BTreeMap<Object, BTreeSet<String>>,
    pub sequences: BTreeMap<Object, BTreeSet<String>>,
    pub schemas: BTreeMap<String, BTreeSet<String>>,
    /// Privileges on the current database (`CREATE`, `TEMPORARY`, `CONNECT`).
    pub database: BTreeSet<String>,
}

/// What [`APP_ROLE`] must hold: the declared tables and their sequences, in `schema` of
/// `database` (the current one). `managed_*` are the tables the Cell answers for (the
/// declared ones and those the lock had: the code declared them once) and their sequences:
/// on those the role holds exactly what is wanted, nothing once no longer declared. Grants
/// on other objects (a view made by hand) are the user's, and kept; but CREATE is revoked
/// everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    pub database: String,
    pub schema: String,
    pub tables: BTreeSet<String>,
    pub sequences: BTreeSet<String>,
    pub managed_tables: BTreeSet<String>,
    pub managed_sequences: BTreeSet<String>,
}

/// The attributes of an existing [`APP_ROLE`] that would give it more than its grants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoleAttributes {
    pub login: bool,
    pub superuser: bool,
    pub create_db: bool,
    pub create_role: bool,
    pub replication: bool,
    pub bypass_rls: bool,
}

/// `rolname`'s attributes, when the role exists: one row of
/// (login, superuser, createdb, createrole, replication, bypassrls).
pub const ROLE_SQL: &str = "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls \
     FROM pg_roles WHERE rolname = $1";

/// Every ACL entry of the role `$1` on a relation outside the system schemas:
/// (schema, name, relkind, privilege).
pub const GRANTED_SQL: &str = "SELECT n.nspname::text, c.relname::text, c.relkind::text, a.privilege_type::text \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     CROSS JOIN LATERAL aclexplode(c.relacl) a \
     WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1) \
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')";

/// Every ACL entry of the role `$1` on a schema: (schema, privilege).
pub const GRANTED_SCHEMAS_SQL: &str = "SELECT n.nspname::text, a.privilege_type::text \
     FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a \
     WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)";

/// Every ACL entry of the role `$1` on the current database: (privilege).
pub const GRANTED_DATABASE_SQL: &str = "SELECT a.privilege_type::text \
     FROM pg_database d CROSS JOIN LATERAL aclexplode(d.datacl) a \
     WHERE d.datname = current_database() \
       AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)";

/// The sequences the tables `$1` of the current schema own (serial and identity columns):
/// (sequence name). They live in the table's schema.
pub const SEQUENCES_SQL: &str = "SELECT DISTINCT s.relname::text \
     FROM pg_depend d \
     JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' \
     JOIN pg_class t ON t.oid = d.refobjid \
     JOIN pg_namespace n ON n.oid = t.relnamespace \
     WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass \
       AND d.deptype IN ('a', 'i') AND n.nspname = current_schema() AND t.relname = ANY($1)";

/// How many objects `$1` owns (it must own none): relations, types, functions, schemas.
pub const OWNED_SQL: &str = "SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid) \
     + (SELECT count(*) FROM pg_type WHERE typowner = r.oid) \
     + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid) \
     + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid) \
     FROM pg_roles r WHERE r.rolname = $1";

/// Creates [`APP_ROLE`] when it does not exist. Safe to run concurrently: a second creator
/// finds it made.
pub fn create_group_role() -> String {
    format!(
        "DO $cell$ BEGIN \
         IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN \
         CREATE ROLE {role} NOLOGIN; \
         END IF; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; \
         END $cell$",
        name = literal(APP_ROLE),
        role = quote(APP_ROLE),
    )
}

/// Takes from an existing [`APP_ROLE`] any attribute that gives more than its grants.
pub fn group_role_fix(attributes: RoleAttributes) -> Option<String> {
    let RoleAttributes {
        login,
        superuser,
        create_db,
        create_role,
        replication,
        bypass_rls,
    } = attributes;
    let wrong: Vec<&str> = [
        (login, "NOLOGIN"),
        (superuser, "NOSUPERUSER"),
        (create_db, "NOCREATEDB"),
        (create_role, "NOCREATEROLE"),
        (replication, "NOREPLICATION"),
        (bypass_rls, "NOBYPASSRLS"),
    ]
    .into_iter()
    .filter_map(|(has, fix)| has.then_some(fix))
    .collect();
    (!wrong.is_empty()).then(|| format!("ALTER ROLE {} {}", quote(APP_ROLE), wrong.join(" ")))
}

/// The dev login role `login` with `password`, created or brought back to exactly this: it
/// logs in, can do nothing by itself, and inherits [`APP_ROLE`]'s grants.
pub fn login_role(login: &str, password: &str) -> Vec<String> {
    let (name, role) = (literal(login), quote(login));
    vec![
        format!(
            "DO $cell$ BEGIN \
             IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN \
             CREATE ROLE {role} LOGIN; \
             END IF; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; \
             END $cell$"
        ),
        format!(
            "ALTER ROLE {role} WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD {}",
            literal(password)
        ),
        membership(login),
    ]
}

/// On the dev Cell: PUBLIC (every role, so the application's too) may not create in the
/// `public` schema. Postgres 15 and later start so; older images gave PUBLIC CREATE there.
/// A deployment's PUBLIC is not the Cell's to change (see docs/postgres.md).
pub const DEV_PUBLIC_SCHEMA: &str = "REVOKE CREATE ON SCHEMA public FROM PUBLIC";

/// Taken first by every transaction that changes roles or grants: two builds at once would
/// otherwise update one role's catalog row together, and Postgres fails the second with
/// "tuple concurrently updated". The keys are "cell" and 2 (the apply's lock is 1);
/// released at the transaction's end.
pub const ROLES_LOCK: &str = "SELECT pg_advisory_xact_lock(1667591276, 2)";

/// Makes `login` a member of [`APP_ROLE`].
pub fn membership(login: &str) -> String {
    format!("GRANT {} TO {}", quote(APP_ROLE), quote(login))
}

fn qualified((schema, name): &Object) -> String {
    format!("{}.{}", quote(schema), quote(name))
}

/// `GRANT`/`REVOKE` of `privileges` on `what`; `None` when there are none.
fn change(
    verb: &str,
    privileges: &BTreeSet<&str>,
    kind: &str,
    what: &str,
    to_from: &str,
) -> Option<String> {
    if privileges.is_empty() {
        return None;
    }
    let list: Vec<&str> = privileges.iter().copied().collect();
    Some(format!(
        "{verb} {} ON {kind}{what} {to_from} {}",
        list.join(", "),
        quote(APP_ROLE)
    ))
}

/// Grants and revokes that take one object from `have` to exactly `want`.
fn converge(
    out: &mut Vec<String>,
    kind: &str,
    what: &str,
    want: &[&str],
    have: Option<&BTreeSet<String>>,
) {
    let empty = BTreeSet::new();
    let have = have.unwrap_or(&empty);
    let want: BTreeSet<&str> = want.iter().copied().collect();
    let held: BTreeSet<&str> = have.iter().map(String::as_str).collect();
    let revoke: BTreeSet<&str> = held.difference(&want).copied().collect();
    let grant: BTreeSet<&str> = want.difference(&held).copied().collect();
    out.extend(change("REVOKE", &revoke, kind, what, "FROM"));
    out.extend(change("GRANT", &grant, kind, what, "TO"));
}

/// Only CREATE revoked: the object is not the Cell's, its other grants are the user's.
fn revoke_create(out: &mut Vec<String>, kind: &str, what: &str, have: &BTreeSet<String>) {
    if have.contains("CREATE") {
        out.extend(change(
            "REVOKE",
            &BTreeSet::from(["CREATE"]),
            kind,
            what,
            "FROM",
        ));
    }
}

/// The statements that take [`APP_ROLE`] from `granted` to `wanted`: on the managed tables
/// and sequences exactly the wanted privileges (the missing granted, every other one
/// revoked, so a table the code no longer declares loses them all); USAGE and nothing else
/// on the schema; CREATE revoked wherever it was granted. Empty when nothing is to change,
/// so running it twice changes nothing.
pub fn statements(wanted: &Wanted, granted: &Granted) -> Vec<String> {
    let mut out = Vec::new();
    let ours = |name: &str| (wanted.schema.clone(), name.to_string());

    // The schema first: a table's grants are no use without it, and REVOKE order is free.
    converge(
        &mut out,
        "SCHEMA ",
        &quote(&wanted.schema),
        &SCHEMA_PRIVILEGES,
        granted.schemas.get(&wanted.schema),
    );
    for (schema, have) in &granted.schemas {
        if *schema != wanted.schema {
            revoke_create(&mut out, "SCHEMA ", &quote(schema), have);
        }
    }

    let managed = |names: &BTreeSet<String>, (schema, name): &Object| {
        *schema == wanted.schema && names.contains(name)
    };
    let tables: BTreeSet<Object> = granted
        .tables
        .keys()
        .filter(|t| managed(&wanted.managed_tables, t))
        .cloned()
        .chain(wanted.tables.iter().map(|t| ours(t)))
        .collect();
    for table in &tables {
        let want: &[&str] = if managed(&wanted.tables, table) {
            &TABLE_PRIVILEGES
        } else {
            &[]
        };
        converge(
            &mut out,
            "TABLE ",
            &qualified(table),
            want,
            granted.tables.get(table),
        );
    }

    let sequences: BTreeSet<Object> = granted
        .sequences
        .keys()
        .filter(|s| managed(&wanted.managed_sequences, s))
        .cloned()
        .chain(wanted.sequences.iter().map(|s| ours(s)))
        .collect();
    for sequence in &sequences {
        let want: &[&str] = if managed(&wanted.sequences, sequence) {
            &SEQUENCE_PRIVILEGES
        } else {
            &[]
        };
        converge(
            &mut out,
            "SEQUENCE ",
            &qualified(sequence),
            want,
            granted.sequences.get(sequence),
        );
    }

    // CONNECT and TEMPORARY come to everyone from PUBLIC; CREATE given to the role goes.
    revoke_create(
        &mut out,
        "DATABASE ",
        &quote(&wanted.database),
        &granted.database,
    );
    out
}

/// The relkinds [`GRANTED_SQL`] reports that are sequences; every other one is a table for
/// `GRANT ... ON TABLE` (tables, views, materialized views, foreign tables).
pub fn is_sequence(relkind: &str) -> bool {
    relkind == "S"
}

/// A short account of `statements` for the terminal: `granted 2, revoked 1`.
pub fn summary(statements: &[String]) -> String {
    let granted = statements.iter().filter(|s| s.starts_with("GRANT")).count();
    let revoked = statements
        .iter()
        .filter(|s| s.starts_with("REVOKE"))
        .count();
    format!("{granted} grant(s), {revoked} revoke(s)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn obj(schema: &str, name: &str) -> Object {
        (schema.to_string(), name.to_string())
    }

    fn wanted(tables: &[&str], sequences: &[&str]) -> Wanted {
        Wanted {
            database: "cell".into(),
            schema: "public".into(),
            tables: set(tables),
            sequences: set(sequences),
            managed_tables: set(tables),
            managed_sequences: set(sequences),
        }
    }

    /// The state `statements` would leave behind, as the catalogs would then say.
    fn after(wanted: &Wanted) -> Granted {
        let mut g = Granted::default();
        g.schemas
            .insert(wanted.schema.clone(), set(&SCHEMA_PRIVILEGES));
        for t in &wanted.tables {
            g.tables
                .insert(obj(&wanted.schema, t), set(&TABLE_PRIVILEGES));
        }
        for s in &wanted.sequences {
            g.sequences
                .insert(obj(&wanted.schema, s), set(&SEQUENCE_PRIVILEGES));
        }
        g
    }

    #[test]
    fn a_fresh_role_gets_exactly_the_four_privileges() {
        let w = wanted(&["users", "posts"], &["posts_id_seq"]);
        assert_eq!(
            statements(&w, &Granted::default()),
            [
                "GRANT USAGE ON SCHEMA \"public\" TO \"cell_app\"",
                "GRANT DELETE, INSERT, SELECT, UPDATE ON TABLE \"public\".\"posts\" TO \"cell_app\"",
                "GRANT DELETE, INSERT, SELECT, UPDATE ON TABLE \"public\".\"users\" TO \"cell_app\"",
                "GRANT SELECT, USAGE ON SEQUENCE \"public\".\"posts_id_seq\" TO \"cell_app\"",
            ]
        );
    }

    #[test]
    fn converged_grants_change_nothing() {
        let w = wanted(&["users", "posts"], &["posts_id_seq"]);
        assert!(statements(&w, &after(&w)).is_empty());
    }

    #[test]
    fn a_table_no_longer_declared_loses_every_privilege() {
        let before = wanted(&["users", "old"], &["old_id_seq"]);
        let mut now = wanted(&["users"], &[]);
        // The lock had `old`: the Cell still answers for it and its sequence.
        now.managed_tables = set(&["users", "old"]);
        now.managed_sequences = set(&["old_id_seq"]);
        assert_eq!(
            statements(&now, &after(&before)),
            [
                "REVOKE DELETE, INSERT, SELECT, UPDATE ON TABLE \"public\".\"old\" FROM \"cell_app\"",
                "REVOKE SELECT, USAGE ON SEQUENCE \"public\".\"old_id_seq\" FROM \"cell_app\"",
            ]
        );
    }

    #[test]
    fn extra_privileges_and_create_anywhere_are_revoked() {
        let w = wanted(&["users"], &[]);
        let mut g = after(&w);
        g.tables
            .get_mut(&obj("public", "users"))
            .unwrap()
            .extend(set(&["TRUNCATE", "REFERENCES", "TRIGGER"]));
        g.schemas.get_mut("public").unwrap().insert("CREATE".into());
        g.schemas.insert("other".into(), set(&["CREATE", "USAGE"]));
        g.database = set(&["CREATE", "TEMPORARY"]);
        assert_eq!(
            statements(&w, &g),
            [
                "REVOKE CREATE ON SCHEMA \"public\" FROM \"cell_app\"",
                "REVOKE CREATE ON SCHEMA \"other\" FROM \"cell_app\"",
                "REVOKE REFERENCES, TRIGGER, TRUNCATE ON TABLE \"public\".\"users\" FROM \"cell_app\"",
                "REVOKE CREATE ON DATABASE \"cell\" FROM \"cell_app\"",
            ]
        );
    }

    /// A view or table made by hand is not the Cell's: what the user granted on it stays.
    #[test]
    fn grants_on_objects_the_cell_never_managed_are_kept() {
        let w = wanted(&["users"], &[]);
        let mut g = after(&w);
        g.tables
            .insert(obj("public", "active_users"), set(&["SELECT"]));
        g.tables.insert(obj("other", "users"), set(&["SELECT"]));
        g.sequences
            .insert(obj("public", "tickets"), set(&["USAGE"]));
        assert!(statements(&w, &g).is_empty());
    }

    #[test]
    fn a_missing_privilege_is_granted_alone() {
        let w = wanted(&["users"], &[]);
        let mut g = after(&w);
        g.tables
            .get_mut(&obj("public", "users"))
            .unwrap()
            .remove("DELETE");
        assert_eq!(
            statements(&w, &g),
            ["GRANT DELETE ON TABLE \"public\".\"users\" TO \"cell_app\""]
        );
    }

    #[test]
    fn no_declared_tables_keeps_only_schema_usage() {
        let w = wanted(&[], &[]);
        assert_eq!(
            statements(&w, &Granted::default()),
            ["GRANT USAGE ON SCHEMA \"public\" TO \"cell_app\""]
        );
    }

    #[test]
    fn role_sql_quotes_names_and_passwords() {
        assert!(create_group_role().contains("CREATE ROLE \"cell_app\" NOLOGIN"));
        let sql = login_role("cell_app_dev", "pa'ss");
        assert_eq!(sql.len(), 3);
        assert!(sql[0].contains("CREATE ROLE \"cell_app_dev\" LOGIN"));
        assert!(sql[1].ends_with("PASSWORD 'pa''ss'"), "{}", sql[1]);
        assert!(sql[1].contains("NOSUPERUSER"));
        assert_eq!(sql[2], "GRANT \"cell_app\" TO \"cell_app_dev\"");
    }

    #[test]
    fn a_group_role_with_powers_loses_them() {
        assert_eq!(group_role_fix(RoleAttributes::default()), None);
        assert_eq!(
            group_role_fix(RoleAttributes {
                login: true,
                create_db: true,
                ..Default::default()
            })
            .as_deref(),
            Some("ALTER ROLE \"cell_app\" NOLOGIN NOCREATEDB")
        );
    }

    #[test]
    fn summary_counts_grants_and_revokes() {
        let w = wanted(&["users"], &[]);
        assert_eq!(
            summary(&statements(&w, &Granted::default())),
            "2 grant(s), 0 revoke(s)"
        );
    }
}
