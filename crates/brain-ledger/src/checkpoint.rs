//! Signed checkpoints: the Merkle root of the first `tree_size` entries, signed with the
//! ledger's Ed25519 key.
//!
//! The signed message is the UTF-8 text
//! `brain-ledger-checkpoint/v1\n{tree_size}\n{root_hash}\n{at}` (decimal size, lowercase hex
//! root, `at` in [`crate::format_at`] form), so anyone with the public key can check it
//! without this crate.

use crate::merkle::Hash;
use crate::time::{format_at, serde_micros};
use brain_auth::{PublicKey, SigningKey};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const CHECKPOINT_TAG: &str = "brain-ledger-checkpoint/v1";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Number of entries covered: seqs `1..=tree_size`.
    pub tree_size: u64,
    /// Hex RFC 6962 root over their entry hashes.
    pub root_hash: String,
    #[serde(with = "serde_micros")]
    pub at: DateTime<Utc>,
    /// Id of the signing key ([`SigningKey::kid`]).
    pub key_id: String,
    /// Hex Ed25519 signature over [`Checkpoint::signed_message`].
    pub signature: String,
}

impl Checkpoint {
    /// Signs the root of the first `tree_size` entries.
    pub(crate) fn sign(key: &SigningKey, tree_size: u64, root: &Hash, at: DateTime<Utc>) -> Self {
        let mut checkpoint = Self {
            tree_size,
            root_hash: hex::encode(root),
            at,
            key_id: key.kid().to_owned(),
            signature: String::new(),
        };
        checkpoint.signature = hex::encode(key.sign(checkpoint.signed_message().as_bytes()));
        checkpoint
    }

    /// The exact bytes the signature covers.
    pub fn signed_message(&self) -> String {
        format!(
            "{CHECKPOINT_TAG}\n{}\n{}\n{}",
            self.tree_size,
            self.root_hash,
            format_at(&self.at)
        )
    }

    /// Checks that `key` signed this checkpoint; the reason when not.
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), String> {
        if self.key_id != key.kid {
            return Err(format!(
                "signed by key {:?}, not by the ledger key {:?}",
                self.key_id, key.kid
            ));
        }
        let signature =
            hex::decode(&self.signature).map_err(|_| "bad signature (not hex)".to_owned())?;
        key.verify(self.signed_message().as_bytes(), &signature)
            .map_err(|_| "bad signature".to_owned())
    }
}

/// 64 hex digits as a hash.
pub(crate) fn decode_hash(text: &str) -> Option<Hash> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_under_the_signing_key_only() {
        let key = SigningKey::generate().unwrap();
        let other = SigningKey::generate().unwrap();
        let checkpoint = Checkpoint::sign(&key, 5, &[7; 32], crate::time::now());
        assert_eq!(checkpoint.verify_signature(&key.public_key()), Ok(()));
        assert!(checkpoint.verify_signature(&other.public_key()).is_err());
        // Same key id claimed, different key bytes.
        let mut impostor = other.public_key();
        impostor.kid = key.kid().to_owned();
        assert_eq!(
            checkpoint.verify_signature(&impostor),
            Err("bad signature".to_owned())
        );

        for change in [
            |c: &mut Checkpoint| c.tree_size += 1,
            |c: &mut Checkpoint| c.root_hash = hex::encode([8; 32]),
            |c: &mut Checkpoint| c.at += chrono::Duration::seconds(1),
        ] {
            let mut changed = checkpoint.clone();
            change(&mut changed);
            assert_eq!(
                changed.verify_signature(&key.public_key()),
                Err("bad signature".to_owned())
            );
        }
    }

    #[test]
    fn message_format() {
        let key = SigningKey::generate().unwrap();
        let at = DateTime::parse_from_rfc3339("2025-01-31T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let checkpoint = Checkpoint::sign(&key, 3, &[0xab; 32], at);
        assert_eq!(
            checkpoint.signed_message(),
            format!(
                "brain-ledger-checkpoint/v1\n3\n{}\n2025-01-31T08:00:00.000000Z",
                "ab".repeat(32)
            )
        );
    }
}
