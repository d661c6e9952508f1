//! The audit chain: each record carries the hash of the one before it, over a canonical
//! encoding, so changing, removing or inserting a record breaks every later link.
//!
//! The encoding is length-prefixed (`<bytes>:<text>` for each field, `-` for a NULL). With the
//! prefix, no two different records can encode the same way: without it, moving a character
//! from the end of one field to the start of the next would leave the hash unchanged.

use sha2::{Digest, Sha256};

/// A chain's hashes: SHA-256.
pub type Hash = [u8; 32];

/// What comes before the first record: the hash the first link points back to.
pub const GENESIS: Hash = [0; 32];

/// One audit record as it is stored, in the form the hash covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    pub event: String,
    /// Who acted (the `AuthContext`'s subject); `None` for calls without one.
    pub actor: Option<String>,
    /// The arguments as the database's `jsonb` text (sensitive ones already keyed hashes).
    pub args: String,
    /// `ok` or `error:<kind>`.
    pub outcome: String,
    /// When, in UTC with microseconds: `2026-12-02T21:40:00.123456Z`.
    pub at: String,
    pub trace_id: Option<String>,
    /// The previous record's [`Record::hash`] ([`GENESIS`] for the first).
    pub prev_hash: Hash,
    /// [`link_hash`] of this record.
    pub hash: Hash,
}

/// The bytes a record's hash covers (every field but the two hashes), in a fixed order.
pub fn canonical(r: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + r.args.len());
    let seq = r.seq.to_string();
    for field in [
        Some(seq.as_str()),
        Some(r.event.as_str()),
        r.actor.as_deref(),
        Some(r.args.as_str()),
        Some(r.outcome.as_str()),
        Some(r.at.as_str()),
        r.trace_id.as_deref(),
    ] {
        match field {
            Some(text) => {
                out.extend_from_slice(text.len().to_string().as_bytes());
                out.push(b':');
                out.extend_from_slice(text.as_bytes());
            }
            None => out.push(b'-'),
        }
    }
    out
}

/// `sha256(prev_hash || canonical(record))`.
pub fn link_hash(prev_hash: &Hash, r: &Record) -> Hash {
    let mut h = Sha256::new();
    h.update(prev_hash);
    h.update(canonical(r));
    h.finalize().into()
}

/// Where a verification starts: the genesis, or a checkpoint (the last record of a pruned
/// partition, or a head anchored outside the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// The seq of the last record before the ones checked (0 at the genesis).
    pub seq: i64,
    pub hash: Hash,
}

impl Anchor {
    pub const GENESIS: Anchor = Anchor {
        seq: 0,
        hash: GENESIS,
    };
}

/// The first link that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("audit record {found} follows record {after}: {} missing", missing(*after, *found))]
    Gap { after: i64, found: i64 },
    #[error("audit record {seq} appears twice, or out of order, after record {after}")]
    OutOfOrder { seq: i64, after: i64 },
    #[error(
        "audit record {seq} does not point at the record before it (its previous hash is {}, the chain has {})",
        hex::encode(stored),
        hex::encode(expected)
    )]
    Unlinked {
        seq: i64,
        stored: Hash,
        expected: Hash,
    },
    #[error(
        "audit record {seq} ({event}) was changed after it was written: its contents no longer match its hash"
    )]
    Changed { seq: i64, event: String },
}

/// `record 2 is` or `records 2 to 5 are`.
fn missing(after: i64, found: i64) -> String {
    if found - after == 2 {
        format!("record {} is", after + 1)
    } else {
        format!("records {} to {} are", after + 1, found - 1)
    }
}

impl Broken {
    /// The seq of the record the chain breaks at.
    pub fn seq(&self) -> i64 {
        match self {
            Broken::Gap { found, .. } => *found,
            Broken::OutOfOrder { seq, .. }
            | Broken::Unlinked { seq, .. }
            | Broken::Changed { seq, .. } => *seq,
        }
    }
}

/// Checks `records` (in seq order) from `anchor`; returns the new head, or the first broken
/// link. Streams: a caller feeds batches by passing the returned head as the next anchor.
pub fn verify<'a>(
    anchor: Anchor,
    records: impl IntoIterator<Item = &'a Record>,
) -> Result<Anchor, Broken> {
    let mut head = anchor;
    for r in records {
        if r.seq <= head.seq {
            return Err(Broken::OutOfOrder {
                seq: r.seq,
                after: head.seq,
            });
        }
        if r.seq != head.seq + 1 {
            return Err(Broken::Gap {
                after: head.seq,
                found: r.seq,
            });
        }
        if r.prev_hash != head.hash {
            return Err(Broken::Unlinked {
                seq: r.seq,
                stored: r.prev_hash,
                expected: head.hash,
            });
        }
        if link_hash(&r.prev_hash, r) != r.hash {
            return Err(Broken::Changed {
                seq: r.seq,
                event: r.event.clone(),
            });
        }
        head = Anchor {
            seq: r.seq,
            hash: r.hash,
        };
    }
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sets every record's hashes so the chain holds again, as someone rewriting it would.
    fn relink(records: &mut [Record]) {
        let mut prev = GENESIS;
        for r in records {
            r.prev_hash = prev;
            r.hash = link_hash(&prev, r);
            prev = r.hash;
        }
    }

    /// A valid chain of `n` records.
    fn chain(n: i64) -> Vec<Record> {
        let mut records: Vec<Record> = (1..=n)
            .map(|seq| Record {
                seq,
                event: "user_deleted".into(),
                actor: (seq % 2 == 0).then(|| format!("user-{seq}")),
                args: format!(r#"{{"id": {seq}}}"#),
                outcome: "ok".into(),
                at: format!("2026-12-02T21:40:{:02}.000000Z", seq % 60),
                trace_id: None,
                prev_hash: GENESIS,
                hash: GENESIS,
            })
            .collect();
        relink(&mut records);
        records
    }

    #[test]
    fn a_whole_chain_verifies_to_its_last_record() {
        let records = chain(5);
        let head = verify(Anchor::GENESIS, &records).unwrap();
        assert_eq!(head.seq, 5);
        assert_eq!(head.hash, records[4].hash);
    }

    #[test]
    fn verifying_in_batches_equals_verifying_at_once() {
        let records = chain(7);
        let mid = verify(Anchor::GENESIS, &records[..3]).unwrap();
        assert_eq!(
            verify(mid, &records[3..]).unwrap(),
            verify(Anchor::GENESIS, &records).unwrap()
        );
    }

    #[test]
    fn a_changed_field_names_that_record() {
        let mut records = chain(5);
        records[2].args = r#"{"id": 999}"#.into();
        let broken = verify(Anchor::GENESIS, &records).unwrap_err();
        assert_eq!(broken.seq(), 3);
        assert!(matches!(broken, Broken::Changed { .. }));
        assert!(broken.to_string().contains("audit record 3 (user_deleted)"));
    }

    #[test]
    fn a_rehashed_record_breaks_the_next_link() {
        // Someone changes record 3 and recomputes its hash: record 4 no longer points at it.
        let mut records = chain(5);
        records[2].outcome = "error:Denied".into();
        records[2].hash = link_hash(&records[2].prev_hash, &records[2]);
        let broken = verify(Anchor::GENESIS, &records).unwrap_err();
        assert_eq!(broken.seq(), 4);
        assert!(matches!(broken, Broken::Unlinked { .. }));
    }

    #[test]
    fn a_removed_record_is_a_gap() {
        let mut records = chain(5);
        records.remove(1);
        assert_eq!(
            verify(Anchor::GENESIS, &records).unwrap_err(),
            Broken::Gap { after: 1, found: 3 }
        );
        assert!(
            Broken::Gap { after: 1, found: 5 }
                .to_string()
                .contains("records 2 to 4 are missing")
        );
        assert!(
            Broken::Gap { after: 1, found: 3 }
                .to_string()
                .contains("record 2 is missing")
        );
    }

    #[test]
    fn a_repeated_record_is_out_of_order() {
        let mut records = chain(3);
        records.insert(2, records[1].clone());
        assert_eq!(
            verify(Anchor::GENESIS, &records).unwrap_err(),
            Broken::OutOfOrder { seq: 2, after: 2 }
        );
    }

    #[test]
    fn a_rewritten_chain_fails_against_an_outside_anchor() {
        // A superuser can rewrite every record consistently; a head kept outside the
        // database still tells.
        let records = chain(4);
        let anchored = verify(Anchor::GENESIS, &records[..2]).unwrap();
        let mut rewritten = chain(4);
        rewritten[0].event = "nothing_happened".into();
        relink(&mut rewritten);
        assert!(verify(Anchor::GENESIS, &rewritten).is_ok());
        assert_eq!(
            verify(anchored, &rewritten[2..]).unwrap_err().seq(),
            3,
            "record 3 must point at the anchored record 2"
        );
    }

    #[test]
    fn the_encoding_tells_field_boundaries_and_nulls_apart() {
        let base = &chain(1)[0];
        let mut a = base.clone();
        a.event = "ab".into();
        a.actor = Some("c".into());
        let mut b = base.clone();
        b.event = "a".into();
        b.actor = Some("bc".into());
        assert_ne!(canonical(&a), canonical(&b));
        let mut null = base.clone();
        null.actor = None;
        let mut empty = base.clone();
        empty.actor = Some(String::new());
        assert_ne!(canonical(&null), canonical(&empty));
        let mut dash = base.clone();
        dash.actor = Some("-".into());
        assert_ne!(canonical(&null), canonical(&dash));
    }

    #[test]
    fn the_encoding_is_fixed() {
        // The database's `append` must produce these bytes: a change here is a change of
        // the stored format.
        let r = Record {
            seq: 12,
            event: "user_deleted".into(),
            actor: None,
            args: r#"{"id": 7}"#.into(),
            outcome: "ok".into(),
            at: "2026-12-02T21:40:00.000000Z".into(),
            trace_id: Some("ab".into()),
            prev_hash: GENESIS,
            hash: GENESIS,
        };
        assert_eq!(
            String::from_utf8(canonical(&r)).unwrap(),
            r#"2:1212:user_deleted-9:{"id": 7}2:ok27:2026-12-02T21:40:00.000000Z2:ab"#
        );
    }
}
