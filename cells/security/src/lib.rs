//! The Security Cell: `#[Security::pii]` on a struct marks personal data.
//!
//! - `#[Security::pii(fields = ["email", "ssn"])]`, or `#[Security::pii]` on the struct and
//!   on each field, or `#[Security::pii]` alone on a struct whose value is personal data as a
//!   whole (a newtype such as `Email(String)`).
//! - Its `Debug` prints `[redacted]` for those fields (a `derive(Debug)` on the struct is
//!   replaced by this one), so a `{:?}` in a log line never shows them.
//! - It gets an inherent `const __CELL_PII: &[&str]` naming them: the Telemetry and Audit
//!   macros check every argument they would record against it
//!   ([`cell_core::macros::refuse_pii`]), at compile time, with the fix.
//! - `Serialize` is left as it is: an API that returns such a struct returns its fields, on
//!   purpose (skip one with `#[serde(skip_serializing)]`).
//! - `#[Security::hipaa(protected_health_info = true)]` next to it, on a `#[Postgres::table]`
//!   struct, makes every read of the table's rows an audit record ([`hipaa`]).
//! - `#[Security::gdpr(right_to_be_forgotten = true)]` on the table of data subjects
//!   generates `forget(&db, &subject)` ([`gdpr`]).
//! - Encrypted fields' core ([`crypto`], the `cell-crypto` crate in `crypto/`): the stored
//!   layout, the key ring and blind indexes. The attribute is `#[Postgres::encrypted]`.
//!
//! The Cell has no lock and nothing live: what `pii` guarantees is checked by rustc, and the
//! audits of `hipaa` are the Audit Cell's (declared, planned and locked with its own).

pub use cell_crypto as crypto;
#[cfg(feature = "macros")]
pub mod expand;
#[cfg(feature = "macros")]
pub mod gdpr;
pub mod hipaa;
#[cfg(feature = "macros")]
pub mod parse;
