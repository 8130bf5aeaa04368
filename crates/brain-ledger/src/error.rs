//! The one error type of the ledger.
//!
//! It is `Clone` because one failed group commit answers every waiter of the batch with the
//! same error.

use brain_core::{ErrorCode, ServiceError};
use brain_store::StoreError;

/// Everything that can go wrong in `brain-ledger`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LedgerError {
    /// The database refused or failed an operation; `code` is the store's classification.
    #[error("ledger store: {message}")]
    Store { code: ErrorCode, message: String },

    /// An entry that cannot be appended (empty actor or action, ...).
    #[error("invalid ledger entry: {0}")]
    InvalidEntry(String),

    /// No entry with this sequence number.
    #[error("ledger entry {0} not found")]
    NotFound(u64),

    /// The entry exists but no checkpoint covers it yet, so no proof can be given.
    #[error(
        "ledger entry {seq} is not covered by a checkpoint yet (latest checkpoint covers {covered} entries)"
    )]
    NotCheckpointedYet { seq: u64, covered: u64 },

    /// The stored chain does not verify; nothing is signed or proven over it.
    #[error("ledger chain broken at seq {seq}: {reason}")]
    ChainBroken { seq: u64, reason: String },

    /// A stored checkpoint that does not match the stored entries or whose signature fails.
    #[error("ledger checkpoint at tree size {tree_size}: {reason}")]
    BadCheckpoint { tree_size: u64, reason: String },

    /// An inclusion proof that does not verify.
    #[error("inclusion proof does not verify: {0}")]
    InvalidProof(String),

    /// A stored value the ledger cannot read back (negative seq, bad hex, ...).
    #[error("ledger row {seq}: {reason}")]
    Corrupt { seq: u64, reason: String },

    /// The writer task is gone (the runtime is shutting down).
    #[error("ledger writer stopped; the entries were not appended")]
    WriterStopped,
}

impl From<StoreError> for LedgerError {
    fn from(error: StoreError) -> Self {
        Self::Store {
            code: error.code(),
            message: error.to_string(),
        }
    }
}

impl ServiceError for LedgerError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Store { code, .. } => *code,
            Self::InvalidEntry(_) | Self::InvalidProof(_) => ErrorCode::InvalidArgument,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::NotCheckpointedYet { .. } => ErrorCode::FailedPrecondition,
            Self::ChainBroken { .. } | Self::BadCheckpoint { .. } | Self::Corrupt { .. } => {
                ErrorCode::Internal
            }
            Self::WriterStopped => ErrorCode::Unavailable,
        }
    }
}
