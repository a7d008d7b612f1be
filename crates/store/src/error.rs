use chaintrace_model::Hash32;

/// What went wrong in the store. Messages state the facts; what a user should do about them
/// (which flag to pass) is for the binary to add.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path} is a file, not a directory")]
    NotADirectory { path: String },
    #[error("store {path} is not readable ({reason})")]
    Unreadable { path: String, reason: String },
    #[error("{path} is a non-empty directory that is not a chaintrace store")]
    NotAStore { path: String },
    #[error("store {path} is in use by another chaintrace process")]
    Locked { path: String },
    #[error("store {path} has format version {found}, this chaintrace reads version {expected}")]
    FormatVersion { path: String, found: u32, expected: u32 },
    #[error("cannot open store {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("{chain} block {height} does not extend the stored chain (expected {expected}, got {got}): roll back to the fork point first")]
    ParentMismatch { chain: String, height: u64, expected: Hash32, got: Hash32 },
    #[error("{chain} block {height} does not follow the stored tip {tip}: blocks must be applied in order")]
    Gap { chain: String, tip: u64, height: u64 },
    #[error("two transfers at height {height} share position {tx_index}/{sub}: the adapter must number them uniquely")]
    DuplicatePosition { height: u64, tx_index: u32, sub: u32 },
    #[error("a different transfer is already stored at height {height} position {tx_index}/{sub}")]
    Conflict { height: u64, tx_index: u32, sub: u32 },
    #[error("invalid data: {0}")]
    Invalid(String),
    #[error("store is corrupt: cannot decode {0}")]
    Corrupt(String),
    #[error("storage engine error: {0}")]
    Rocks(#[from] rocksdb::Error),
}

impl StoreError {
    pub(crate) fn from_open(path: &str, e: rocksdb::Error) -> Self {
        let msg = e.to_string();
        let lower = msg.to_ascii_lowercase();
        if lower.contains("lock")
            && (lower.contains("resource temporarily unavailable") || lower.contains("no locks available"))
        {
            StoreError::Locked { path: path.to_string() }
        } else if lower.contains("permission denied") {
            StoreError::Unreadable { path: path.to_string(), reason: "permission denied".into() }
        } else {
            StoreError::Open { path: path.to_string(), reason: msg }
        }
    }
}
