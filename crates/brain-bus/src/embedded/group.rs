//! Consumer groups of the embedded log: live members share partitions, committed offsets
//! are persisted (atomically) under `groups/<name>.json`.

use crate::BusError;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

type Offsets = BTreeMap<String, BTreeMap<u32, u64>>;

#[derive(Default)]
struct GroupState {
    members: BTreeSet<u64>,
    /// Bumped whenever membership changes; members re-balance when they see a new one.
    generation: u64,
    committed: Offsets,
    loaded: bool,
}

pub(crate) struct Groups {
    dir: PathBuf,
    state: Mutex<HashMap<String, GroupState>>,
    /// Serializes persisting so an older snapshot never overwrites a newer one.
    persist: Mutex<()>,
    next_member: std::sync::atomic::AtomicU64,
}

/// A member's view after a (re)balance.
pub(crate) struct Assignment {
    pub generation: u64,
    /// Index of this member among the live members, and their count.
    pub rank: usize,
    pub members: usize,
}

impl Groups {
    pub fn new(dir: &Path) -> Result<Self, BusError> {
        std::fs::create_dir_all(dir).map_err(|e| BusError::io(dir, e))?;
        Ok(Self {
            dir: dir.to_owned(),
            state: Mutex::new(HashMap::new()),
            persist: Mutex::new(()),
            next_member: std::sync::atomic::AtomicU64::new(1),
        })
    }

    fn path(&self, group: &str) -> PathBuf {
        self.dir.join(format!("{group}.json"))
    }

    fn with_group<T>(&self, group: &str, f: impl FnOnce(&mut GroupState) -> T) -> Result<T, BusError> {
        let mut groups = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = groups.entry(group.to_owned()).or_default();
        if !state.loaded {
            let path = self.path(group);
            state.committed = match std::fs::read(&path) {
                Ok(bytes) => serde_json::from_slice(&bytes)
                    .map_err(|e| BusError::Corrupt { path: path.display().to_string(), reason: e.to_string() })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Offsets::new(),
                Err(e) => return Err(BusError::io(&path, e)),
            };
            state.loaded = true;
        }
        Ok(f(state))
    }

    pub fn join(&self, group: &str) -> Result<u64, BusError> {
        let member = self.next_member.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.with_group(group, |state| {
            state.members.insert(member);
            state.generation += 1;
        })?;
        Ok(member)
    }

    pub fn leave(&self, group: &str, member: u64) {
        let _ = self.with_group(group, |state| {
            if state.members.remove(&member) {
                state.generation += 1;
            }
        });
    }

    pub fn generation(&self, group: &str) -> Result<u64, BusError> {
        self.with_group(group, |state| state.generation)
    }

    pub fn assignment(&self, group: &str, member: u64) -> Result<Assignment, BusError> {
        self.with_group(group, |state| Assignment {
            generation: state.generation,
            rank: state.members.iter().position(|m| *m == member).unwrap_or(0),
            members: state.members.len().max(1),
        })
    }

    pub fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<u64, BusError> {
        self.with_group(group, |state| state.committed.get(topic).and_then(|p| p.get(&partition)).copied().unwrap_or(0))
    }

    /// Records the offset and persists the group's offsets before returning.
    pub fn commit(&self, group: &str, topic: &str, partition: u32, next_offset: u64) -> Result<(), BusError> {
        let _persisting = self.persist.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let snapshot = self.with_group(group, |state| {
            state.committed.entry(topic.to_owned()).or_default().insert(partition, next_offset);
            state.committed.clone()
        })?;
        let bytes = serde_json::to_vec_pretty(&snapshot).unwrap_or_default();
        super::write_atomically(&self.path(group), &bytes)
    }
}
