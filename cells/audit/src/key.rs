//! The audit key: HMAC-SHA256 for sensitive arguments (recorded only as keyed hashes, so a
//! reader of the trail can match a known value but cannot recover one) and for checkpoint
//! files (so a checkpoint kept outside the database cannot be forged by whoever can rewrite
//! the database).
//!
//! In deployment the key is `CELL_AUDIT_KEY` (hex, at least 32 bytes). In dev it is made once
//! and kept in `.cell/state/audit.json`, beside the other Cells' secrets.

use ring::hmac;

/// The variable holding the key in deployment.
pub const KEY_ENV: &str = "CELL_AUDIT_KEY";

/// The dev key's state file (`.cell/state/audit.json`) holds `{"key": "<hex>"}`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct KeyState {
    pub key: String,
}

/// A key that signs and hashes; its bytes never appear in `Debug` output.
#[derive(Clone)]
pub struct Key(hmac::Key);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key([redacted])")
    }
}

impl Key {
    /// From hex text (`CELL_AUDIT_KEY` or the dev state): at least 32 bytes.
    pub fn from_hex(text: &str) -> Result<Key, String> {
        let bytes = hex::decode(text.trim()).map_err(|_| format!("{KEY_ENV} is not hex"))?;
        if bytes.len() < 32 {
            return Err(format!(
                "{KEY_ENV} holds {} bytes; an audit key has at least 32 (64 hex digits)",
                bytes.len()
            ));
        }
        Ok(Key(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
    }

    /// A new random key, as hex (for the dev state).
    pub fn generate_hex() -> String {
        use ring::rand::SecureRandom as _;
        let mut bytes = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system's random source works");
        hex::encode(bytes)
    }

    /// The keyed hash a sensitive argument is recorded as: `hmac-sha256:<hex>` over the
    /// field's name and its value's JSON text, so equal values of different fields differ.
    pub fn hash_field(&self, field: &str, value_json: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(field.as_bytes());
        ctx.update(&[0]);
        ctx.update(value_json.as_bytes());
        format!("hmac-sha256:{}", hex::encode(ctx.sign().as_ref()))
    }

    /// The signature of a checkpoint of `(seq, hash)`.
    pub fn sign_checkpoint(&self, seq: i64, hash: &crate::chain::Hash) -> String {
        hex::encode(hmac::sign(&self.0, &checkpoint_message(seq, hash)).as_ref())
    }

    /// Whether `signature` is [`Key::sign_checkpoint`]'s for `(seq, hash)` (in constant time).
    pub fn verify_checkpoint(&self, seq: i64, hash: &crate::chain::Hash, signature: &str) -> bool {
        match hex::decode(signature) {
            Ok(sig) => hmac::verify(&self.0, &checkpoint_message(seq, hash), &sig).is_ok(),
            Err(_) => false,
        }
    }
}

fn checkpoint_message(seq: i64, hash: &crate::chain::Hash) -> Vec<u8> {
    format!(
        "cargo-cell audit checkpoint v1\n{seq}\n{}\n",
        hex::encode(hash)
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_hashes_depend_on_key_field_and_value() {
        let k = Key::from_hex(&"11".repeat(32)).unwrap();
        let other = Key::from_hex(&"22".repeat(32)).unwrap();
        let h = k.hash_field("email", "\"a@example.com\"");
        assert!(h.starts_with("hmac-sha256:") && h.len() == 12 + 64, "{h}");
        assert_eq!(h, k.hash_field("email", "\"a@example.com\""));
        assert_ne!(h, other.hash_field("email", "\"a@example.com\""));
        assert_ne!(h, k.hash_field("ssn", "\"a@example.com\""));
        assert_ne!(h, k.hash_field("email", "\"b@example.com\""));
        assert_eq!(format!("{k:?}"), "Key([redacted])");
    }

    #[test]
    fn checkpoints_are_signed() {
        let k = Key::from_hex(&Key::generate_hex()).unwrap();
        let hash = [7u8; 32];
        let sig = k.sign_checkpoint(42, &hash);
        assert!(k.verify_checkpoint(42, &hash, &sig));
        assert!(!k.verify_checkpoint(43, &hash, &sig));
        assert!(!k.verify_checkpoint(42, &[8u8; 32], &sig));
        assert!(!k.verify_checkpoint(42, &hash, "zz"));
    }

    #[test]
    fn short_or_malformed_keys_are_refused() {
        assert!(Key::from_hex("abcd").unwrap_err().contains("at least 32"));
        assert!(Key::from_hex("not hex").unwrap_err().contains("not hex"));
    }
}
