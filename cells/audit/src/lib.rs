//! The Audit Cell (issue 20, in progress): audit records that form a hash chain, kept in the
//! Postgres Cell.
//!
//! So far this crate holds the pure part, which everything else is built around: how one
//! record is encoded for hashing ([`chain::canonical`]), how a link's hash is computed
//! ([`chain::link_hash`]), and how a run of records is checked, naming the first broken link
//! ([`chain::verify`]). The `append` function the database runs must encode exactly as
//! [`chain::canonical`] does; `cargo cell audit verify` recomputes every hash here, in Rust, so
//! a verification does not trust functions stored in the database it checks.

pub mod chain;
