//! The RFC 6962 Merkle tree hash over the ledger's entry hashes, and inclusion paths.
//!
//! Leaf hash = SHA-256(0x00 || leaf), node hash = SHA-256(0x01 || left || right); a tree of
//! n > 1 leaves splits at k, the largest power of two smaller than n. Leaves are the 32 raw
//! bytes of each entry's `entry_hash`, in sequence order (leaf index = seq − 1).

use sha2::{Digest, Sha256};
use std::ops::Range;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf);
    hasher.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Builds a tree hash from leaves pushed in order, holding only O(log n) hashes: the roots of
/// the perfect subtrees that the leaves so far decompose into, largest first.
#[derive(Clone, Debug, Default)]
pub(crate) struct TreeBuilder {
    /// (leaf count, subtree hash); counts are strictly decreasing powers of two.
    stack: Vec<(u64, Hash)>,
    size: u64,
}

impl TreeBuilder {
    pub fn push(&mut self, leaf: &[u8]) {
        self.stack.push((1, leaf_hash(leaf)));
        self.size += 1;
        while let [.., (left_size, left), (right_size, right)] = self.stack[..] {
            if left_size != right_size {
                break;
            }
            self.stack.truncate(self.stack.len() - 2);
            self.stack.push((left_size * 2, node_hash(&left, &right)));
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree hash of the leaves pushed so far; `None` for no leaves.
    pub fn root(&self) -> Option<Hash> {
        // RFC 6962's split at the largest power of two is exactly this right fold over the
        // perfect subtrees.
        let mut subtrees = self.stack.iter().rev();
        let (_, last) = subtrees.next()?;
        Some(subtrees.fold(*last, |acc, (_, left)| node_hash(left, &acc)))
    }
}

/// The tree hash of `leaves`; `None` when empty.
pub fn tree_root<L: AsRef<[u8]>>(leaves: &[L]) -> Option<Hash> {
    let mut builder = TreeBuilder::default();
    for leaf in leaves {
        builder.push(leaf.as_ref());
    }
    builder.root()
}

/// The leaf ranges whose subtree hashes form the audit path of leaf `index` in a tree of
/// `size` leaves, in path order (the sibling nearest the leaf first). They are disjoint and,
/// with the leaf itself, cover `0..size`.
pub(crate) fn path_ranges(index: u64, size: u64) -> Vec<Range<u64>> {
    let (mut lo, mut hi) = (0, size);
    let mut top_down = Vec::new();
    while hi - lo > 1 {
        let k = largest_power_of_two_below(hi - lo);
        if index < lo + k {
            top_down.push(lo + k..hi);
            hi = lo + k;
        } else {
            top_down.push(lo..lo + k);
            lo += k;
        }
    }
    top_down.reverse();
    top_down
}

/// For n ≥ 2.
fn largest_power_of_two_below(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The audit path of leaf `index` among `leaves` (all in memory; the ledger streams instead).
pub fn inclusion_path<L: AsRef<[u8]>>(leaves: &[L], index: u64) -> Vec<Hash> {
    path_ranges(index, leaves.len() as u64)
        .into_iter()
        .filter_map(|range| {
            let start = usize::try_from(range.start).ok()?;
            let end = usize::try_from(range.end).ok()?;
            tree_root(leaves.get(start..end)?)
        })
        .collect()
}

/// The root that `path` leads to from `leaf` at `index` in a tree of `size` leaves
/// (RFC 9162 §2.1.3.2); an error when the path has the wrong length for that position.
pub fn root_from_path(index: u64, size: u64, leaf: &[u8], path: &[Hash]) -> Result<Hash, String> {
    if index >= size {
        return Err(format!(
            "leaf index {index} is outside a tree of {size} leaves"
        ));
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut hash = leaf_hash(leaf);
    for sibling in path {
        if snode == 0 {
            return Err(format!(
                "audit path has {} elements, more than the tree needs",
                path.len()
            ));
        }
        if fnode & 1 == 1 || fnode == snode {
            hash = node_hash(sibling, &hash);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            hash = node_hash(&hash, sibling);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(format!(
            "audit path has {} elements, fewer than the tree needs",
            path.len()
        ));
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962 §2.1 written as the definition reads, to check the streaming builder against.
    fn reference_root(leaves: &[Vec<u8>]) -> Hash {
        match leaves.len() {
            0 => Sha256::digest([]).into(),
            1 => leaf_hash(&leaves[0]),
            n => {
                let k = largest_power_of_two_below(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    fn leaves(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| Sha256::digest(i.to_be_bytes()).to_vec())
            .collect()
    }

    #[test]
    fn power_of_two_split() {
        assert_eq!(largest_power_of_two_below(2), 1);
        assert_eq!(largest_power_of_two_below(3), 2);
        assert_eq!(largest_power_of_two_below(4), 2);
        assert_eq!(largest_power_of_two_below(5), 4);
        assert_eq!(largest_power_of_two_below(1 << 40), 1 << 39);
    }

    #[test]
    fn rfc6962_test_vectors() {
        // The leaves and roots of the Certificate Transparency reference test data.
        let data: Vec<Vec<u8>> = [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|h| hex::decode(h).unwrap())
        .collect();
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        for (n, expected) in (1..).zip(roots) {
            assert_eq!(
                hex::encode(tree_root(&data[..n]).unwrap()),
                expected,
                "size {n}"
            );
        }
    }

    #[test]
    fn builder_matches_the_definition() {
        for n in 1..=70 {
            let leaves = leaves(n);
            assert_eq!(
                tree_root(&leaves),
                Some(reference_root(&leaves)),
                "size {n}"
            );
        }
        assert_eq!(tree_root::<Vec<u8>>(&[]), None);
    }

    #[test]
    fn builder_root_at_every_prefix() {
        let leaves = leaves(33);
        let mut builder = TreeBuilder::default();
        for (i, leaf) in leaves.iter().enumerate() {
            builder.push(leaf);
            assert_eq!(builder.size(), i as u64 + 1);
            assert_eq!(builder.root(), Some(reference_root(&leaves[..=i])));
        }
    }

    #[test]
    fn paths_verify_for_every_leaf_of_trees_up_to_20() {
        for n in 1..=20u64 {
            let leaves = leaves(n as usize);
            let root = reference_root(&leaves);
            for index in 0..n {
                let leaf = &leaves[index as usize];
                let path = inclusion_path(&leaves, index);
                assert_eq!(
                    root_from_path(index, n, leaf, &path),
                    Ok(root),
                    "size {n} index {index}"
                );

                // The same path fails for another leaf, another index, or a changed element.
                let other = Sha256::digest(b"other").to_vec();
                assert_ne!(root_from_path(index, n, &other, &path), Ok(root));
                if n > 1 {
                    let wrong_index = (index + 1) % n;
                    assert_ne!(
                        root_from_path(wrong_index, n, leaf, &path),
                        Ok(root),
                        "size {n} index {index}"
                    );
                }
                for i in 0..path.len() {
                    let mut bad = path.clone();
                    bad[i][0] ^= 1;
                    assert_ne!(root_from_path(index, n, leaf, &bad), Ok(root));
                }
                let mut longer = path.clone();
                longer.push(root);
                assert!(root_from_path(index, n, leaf, &longer).is_err());
                if !path.is_empty() {
                    assert!(root_from_path(index, n, leaf, &path[..path.len() - 1]).is_err());
                }
            }
        }
    }

    #[test]
    fn path_ranges_cover_the_tree_except_the_leaf() {
        for n in 1..=40u64 {
            for index in 0..n {
                let mut covered: Vec<u64> = path_ranges(index, n).into_iter().flatten().collect();
                covered.push(index);
                covered.sort_unstable();
                assert_eq!(
                    covered,
                    (0..n).collect::<Vec<_>>(),
                    "size {n} index {index}"
                );
            }
        }
    }

    #[test]
    fn index_outside_the_tree() {
        assert!(root_from_path(3, 3, b"x", &[]).is_err());
    }
}
