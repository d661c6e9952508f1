//! The application's role, live: [`crate::roles`]' SQL run against the database. The group
//! role and its grants after every apply (inside the apply's advisory lock), the dev login
//! role once the dev Cell is up, a deployment's login role made a member.

use std::collections::BTreeSet;

use tokio_postgres::{Client, GenericClient};

use crate::roles::{self, APP_ROLE, Granted, RoleAttributes, Wanted};

/// Creates [`APP_ROLE`] when missing and takes from it any power beyond its grants.
pub async fn ensure_group_role(client: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
    let row = client.query_opt(roles::ROLE_SQL, &[&APP_ROLE]).await?;
    let Some(row) = row else {
        return client.batch_execute(&roles::create_group_role()).await;
    };
    let attributes = RoleAttributes {
        login: row.get(0),
        superuser: row.get(1),
        create_db: row.get(2),
        create_role: row.get(3),
        replication: row.get(4),
        bypass_rls: row.get(5),
    };
    match roles::group_role_fix(attributes) {
        Some(sql) => client.batch_execute(&sql).await,
        None => Ok(()),
    }
}

/// What [`APP_ROLE`] holds now.
pub async fn granted(client: &impl GenericClient) -> Result<Granted, tokio_postgres::Error> {
    let mut g = Granted::default();
    for row in client.query(roles::GRANTED_SQL, &[&APP_ROLE]).await? {
        let object = (row.get::<_, String>(0), row.get::<_, String>(1));
        let kind: String = row.get(2);
        let privilege: String = row.get(3);
        let map = if roles::is_sequence(&kind) {
            &mut g.sequences
        } else {
            &mut g.tables
        };
        map.entry(object).or_default().insert(privilege);
    }
    for row in client
        .query(roles::GRANTED_SCHEMAS_SQL, &[&APP_ROLE])
        .await?
    {
        g.schemas.entry(row.get(0)).or_default().insert(row.get(1));
    }
    for row in client
        .query(roles::GRANTED_DATABASE_SQL, &[&APP_ROLE])
        .await?
    {
        g.database.insert(row.get(0));
    }
    Ok(g)
}

/// What [`APP_ROLE`] must hold for `declared` (tables of the current schema) as they are
/// now; `managed` adds the tables the Cell answers for (those the lock had).
pub async fn wanted(
    client: &impl GenericClient,
    declared: &[String],
    managed: &[String],
) -> Result<Wanted, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT current_database()::text, current_schema()::text",
            &[],
        )
        .await?;
    let existing: BTreeSet<String> = client
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname = ANY($1)",
            &[&declared],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let sequences = |tables: Vec<String>| async move {
        let rows = client.query(roles::SEQUENCES_SQL, &[&tables]).await?;
        Ok::<BTreeSet<String>, tokio_postgres::Error>(rows.iter().map(|r| r.get(0)).collect())
    };
    let mut managed_tables: BTreeSet<String> = managed.iter().cloned().collect();
    managed_tables.extend(declared.iter().cloned());
    Ok(Wanted {
        database: row.get(0),
        schema: row.get(1),
        sequences: sequences(declared.to_vec()).await?,
        managed_sequences: sequences(managed_tables.iter().cloned().collect()).await?,
        tables: existing,
        managed_tables,
    })
}

/// Takes [`APP_ROLE`] to exactly the privileges `declared` need (and none on the other
/// `managed` tables), in one transaction; returns the statements run (none when it already
/// held exactly those). Run it holding the apply's advisory lock.
pub async fn sync(
    client: &mut Client,
    declared: &[String],
    managed: &[String],
) -> Result<Vec<String>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.batch_execute(roles::ROLES_LOCK).await?;
    ensure_group_role(&tx).await?;
    let wanted = wanted(&tx, declared, managed).await?;
    let granted = granted(&tx).await?;
    let statements = roles::statements(&wanted, &granted);
    for sql in &statements {
        tx.batch_execute(sql).await?;
    }
    tx.commit().await?;
    Ok(statements)
}

/// The dev login role with `password`, a member of [`APP_ROLE`] (which is created if
/// missing), and PUBLIC's CREATE on the `public` schema taken (older images grant it).
/// Idempotent, and safe to run from two builds at once (one transaction, under
/// [`roles::ROLES_LOCK`]).
pub async fn ensure_login(
    client: &mut Client,
    login: &str,
    password: &str,
) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.batch_execute(roles::ROLES_LOCK).await?;
    ensure_group_role(&tx).await?;
    tx.batch_execute(roles::DEV_PUBLIC_SCHEMA).await?;
    for sql in roles::login_role(login, password) {
        tx.batch_execute(&sql).await?;
    }
    tx.commit().await
}

/// What [`ensure_member`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// `login` is the connected role itself: the program would run as the owner.
    Owner,
    /// `login` was a member already, or has just been made one.
    Member { added: bool },
    /// No role of that name exists.
    NoSuchRole,
}

/// Makes the login role `login` (a deployment's application role) a member of
/// [`APP_ROLE`].
pub async fn ensure_member(
    client: &Client,
    login: &str,
) -> Result<Membership, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT current_user::text = $1, \
                    EXISTS (SELECT FROM pg_roles WHERE rolname = $1), \
                    EXISTS (SELECT FROM pg_auth_members m \
                            JOIN pg_roles g ON g.oid = m.roleid \
                            JOIN pg_roles u ON u.oid = m.member \
                            WHERE g.rolname = $2 AND u.rolname = $1)",
            &[&login, &APP_ROLE],
        )
        .await?;
    let (is_owner, exists, member): (bool, bool, bool) = (row.get(0), row.get(1), row.get(2));
    if is_owner {
        return Ok(Membership::Owner);
    }
    if !exists {
        return Ok(Membership::NoSuchRole);
    }
    if !member {
        client.batch_execute(&roles::membership(login)).await?;
    }
    Ok(Membership::Member { added: !member })
}
