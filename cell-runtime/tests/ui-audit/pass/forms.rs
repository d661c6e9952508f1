use axum::Json;
use cell_runtime::Transaction;
use cell_runtime::prelude::*;

#[derive(Debug)]
enum AppError {
    Db(Error),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Db(e)
    }
}

#[derive(serde::Serialize)]
struct Signup {
    name: String,
}

// In the caller's transaction, with an actor and a sensitive argument.
#[Audit::log(event = "user_deleted", sensitive_fields = ["email", "ssn"], retention = "7y", immutable = true)]
async fn delete_user(tx: &Transaction, auth: &AuthContext, id: i64, email: String, ssn: &str) -> Result<u64, AppError> {
    let _ = (tx, auth, id, email, ssn);
    Ok(1)
}

// Through any executor, the body moving its arguments and returning early.
#[Audit::log(event = "renamed", retention = "90d")]
async fn rename(db: &impl Executor, id: i64, name: String) -> Result<(), Error> {
    if id < 0 {
        return Ok(());
    }
    let owned: String = name;
    db.execute("UPDATE t SET name = $2 WHERE id = $1", &[&id, &owned]).await?;
    Ok(())
}

// A transaction by value, an extractor pattern, no executor at all.
#[Audit::log(event = "signed_up", retention = "18mo")]
async fn sign_up(tx: Transaction, Json(body): Json<Signup>) -> Result<String, Error> {
    drop(tx);
    Ok(body.name)
}

#[Audit::log(event = "exported", retention = "1y")]
async fn export() -> Result<(), Error> {
    Ok(())
}

fn main() {
    let _ = (delete_user, sign_up, export);
    let _ = |db: PostgresConnection| async move { rename(&db, 1, String::new()).await };
}
