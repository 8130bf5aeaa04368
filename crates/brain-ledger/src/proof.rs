//! Inclusion proofs: an entry, its audit path and the signed checkpoint it leads to. They
//! verify offline with the ledger's public key alone.

use crate::checkpoint::{Checkpoint, decode_hash};
use crate::entry::LedgerEntry;
use crate::error::LedgerError;
use crate::merkle::root_from_path;
use brain_auth::PublicKey;
use serde::{Deserialize, Serialize};

/// Evidence that `entry` is leaf `leaf_index` of the tree `checkpoint` signed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub seq: u64,
    /// `seq − 1`.
    pub leaf_index: u64,
    pub entry: LedgerEntry,
    /// Hex sibling hashes, nearest the leaf first (RFC 6962 §2.1.1).
    pub audit_path: Vec<String>,
    pub checkpoint: Checkpoint,
}

/// Checks, without any database: the entry's details against its details hash, its entry hash
/// against its fields, the audit path to the checkpoint root, and the checkpoint signature
/// under `key`.
pub fn verify_inclusion(proof: &InclusionProof, key: &PublicKey) -> Result<(), LedgerError> {
    let invalid = |reason: String| LedgerError::InvalidProof(reason);
    let entry = &proof.entry;
    if entry.seq != proof.seq {
        return Err(invalid(format!(
            "the proof is for seq {} but holds entry seq {}",
            proof.seq, entry.seq
        )));
    }
    if proof.seq == 0 || proof.leaf_index != proof.seq - 1 {
        return Err(invalid(format!(
            "leaf index {} does not belong to seq {}",
            proof.leaf_index, proof.seq
        )));
    }
    if !entry.details_match() {
        return Err(invalid(format!(
            "seq {}: details do not match details_hash",
            entry.seq
        )));
    }
    if entry.computed_hash() != entry.entry_hash {
        return Err(invalid(format!(
            "seq {}: entry_hash does not match the entry's fields",
            entry.seq
        )));
    }
    let leaf = decode_hash(&entry.entry_hash).ok_or_else(|| {
        invalid(format!(
            "seq {}: entry_hash is not 64 hex digits",
            entry.seq
        ))
    })?;
    let path = proof
        .audit_path
        .iter()
        .enumerate()
        .map(|(i, element)| {
            decode_hash(element)
                .ok_or_else(|| invalid(format!("audit path element {i} is not 64 hex digits")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let root = root_from_path(proof.leaf_index, proof.checkpoint.tree_size, &leaf, &path)
        .map_err(invalid)?;
    if hex::encode(root) != proof.checkpoint.root_hash {
        return Err(invalid(format!(
            "the audit path does not lead to the root of the checkpoint at tree size {}",
            proof.checkpoint.tree_size
        )));
    }
    proof.checkpoint.verify_signature(key).map_err(|reason| {
        invalid(format!(
            "checkpoint at tree size {}: {reason}",
            proof.checkpoint.tree_size
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{GENESIS_HASH, NewEntry, chain};
    use crate::merkle::{inclusion_path, tree_root};
    use brain_auth::SigningKey;

    fn proofs(n: u64, key: &SigningKey) -> Vec<InclusionProof> {
        let entries = chain(
            0,
            GENESIS_HASH,
            crate::time::now(),
            (0..n)
                .map(|i| NewEntry {
                    actor: "user:1".into(),
                    tenant: "acme".into(),
                    action: "test".into(),
                    subject: format!("s{i}"),
                    result: "ok".into(),
                    details: serde_json::json!({"i": i, "tags": ["a", "b"]}),
                })
                .collect(),
        );
        let leaves: Vec<_> = entries
            .iter()
            .map(|e| decode_hash(&e.entry_hash).unwrap())
            .collect();
        let root = tree_root(&leaves).unwrap();
        let checkpoint = Checkpoint::sign(key, n, &root, crate::time::now());
        entries
            .into_iter()
            .map(|entry| InclusionProof {
                seq: entry.seq,
                leaf_index: entry.seq - 1,
                audit_path: inclusion_path(&leaves, entry.seq - 1)
                    .iter()
                    .map(hex::encode)
                    .collect(),
                entry,
                checkpoint: checkpoint.clone(),
            })
            .collect()
    }

    #[test]
    fn every_entry_of_trees_up_to_20_proves() {
        let key = SigningKey::generate().unwrap();
        for n in 1..=20 {
            for proof in proofs(n, &key) {
                assert_eq!(
                    verify_inclusion(&proof, &key.public_key()),
                    Ok(()),
                    "size {n} seq {}",
                    proof.seq
                );
            }
        }
        // Proofs travel as JSON.
        for proof in proofs(7, &key) {
            let back: InclusionProof =
                serde_json::from_str(&serde_json::to_string(&proof).unwrap()).unwrap();
            assert_eq!(verify_inclusion(&back, &key.public_key()), Ok(()));
        }
    }

    #[test]
    fn tampered_proofs_fail() {
        let key = SigningKey::generate().unwrap();
        let other = SigningKey::generate().unwrap();
        let proof = proofs(11, &key).remove(6);
        type Tamper = fn(&mut InclusionProof);
        let changes: [(&str, Tamper); 11] = [
            ("subject", |p| p.entry.subject.push('!')),
            ("details", |p| p.entry.details = serde_json::json!({"i": 0})),
            ("at", |p| p.entry.at += chrono::Duration::microseconds(1)),
            ("seq", |p| p.seq += 1),
            ("leaf index", |p| p.leaf_index += 1),
            ("path element", |p| p.audit_path[1] = hex::encode([9u8; 32])),
            ("path length", |p| {
                p.audit_path.pop();
            }),
            ("path not hex", |p| p.audit_path[0] = "zz".into()),
            ("tree size", |p| p.checkpoint.tree_size += 1),
            ("root", |p| p.checkpoint.root_hash = hex::encode([1u8; 32])),
            ("signature", |p| {
                p.checkpoint.signature = hex::encode([0u8; 64])
            }),
        ];
        for (what, change) in changes {
            let mut bad = proof.clone();
            change(&mut bad);
            assert!(
                matches!(
                    verify_inclusion(&bad, &key.public_key()),
                    Err(LedgerError::InvalidProof(_))
                ),
                "changed {what} still verifies"
            );
        }
        let err = verify_inclusion(&proof, &other.public_key()).unwrap_err();
        assert!(err.to_string().contains("not by the ledger key"), "{err}");
    }
}
