//! A topic of the embedded log: a directory with one sub-directory per partition and a
//! `meta.json` that fixes the partition count at creation, as Kafka does.

use super::partition::Partition;
use crate::BusError;
use std::path::Path;

pub(crate) struct Topic {
    pub name: String,
    partitions: Vec<Partition>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    partitions: u32,
}

impl Topic {
    /// Opens the topic, creating it with `partitions` if it does not exist yet.
    pub fn open(root: &Path, name: &str, partitions: u32) -> Result<Self, BusError> {
        let dir = root.join(name);
        let meta_path = dir.join("meta.json");
        let count = match std::fs::read(&meta_path) {
            Ok(bytes) => {
                let meta: Meta = serde_json::from_slice(&bytes)
                    .map_err(|e| BusError::Corrupt { path: meta_path.display().to_string(), reason: e.to_string() })?;
                meta.partitions
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&dir).map_err(|e| BusError::io(&dir, e))?;
                let bytes = serde_json::to_vec(&Meta { partitions }).unwrap_or_default();
                super::write_atomically(&meta_path, &bytes)?;
                partitions
            }
            Err(e) => return Err(BusError::io(&meta_path, e)),
        };
        let partitions = (0..count).map(|p| Partition::open(&dir.join(p.to_string()))).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { name: name.to_owned(), partitions })
    }

    pub fn partition_count(&self) -> u32 {
        self.partitions.len() as u32
    }

    pub fn partition(&self, partition: u32) -> Option<&Partition> {
        self.partitions.get(partition as usize)
    }
}
