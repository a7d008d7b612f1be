use chaintrace_model::Hash32;

/// What went wrong in the store. Messages state the facts; what a user should do about them
/// (which flag to pass) is for the binary to add.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store path exists and is a file.
    #[error("store {path} is a file, not a directory")]
    NotADirectory {
        /// The store directory as given.
        path: String,
    },
    /// The store directory cannot be listed or opened for lack of permission; `reason` is the OS
    /// error.
    #[error("store {path} is not readable ({reason})")]
    Unreadable {
        /// The store directory as given.
        path: String,
        /// What the operating system or RocksDB said.
        reason: String,
    },
    /// The path is a non-empty directory without a RocksDB `CURRENT` file; nothing is created in
    /// it.
    #[error("{path} is a non-empty directory that is not a chaintrace store")]
    NotAStore {
        /// The store directory as given.
        path: String,
    },
    /// Another process holds the store's RocksDB `LOCK` file.
    #[error("store {path} is in use by another chaintrace process")]
    Locked {
        /// The store directory as given.
        path: String,
    },
    /// The store was written with another on-disk layout version (`found`) than this build's
    /// [`crate::FORMAT_VERSION`] (`expected`).
    #[error("store {path} has format version {found}, this chaintrace reads version {expected}")]
    FormatVersion {
        /// The store directory as given.
        path: String,
        /// The version recorded in the store.
        found: u32,
        /// The version this build reads ([`crate::FORMAT_VERSION`]).
        expected: u32,
    },
    /// RocksDB refused to open the store for another reason, given in `reason`.
    #[error("cannot open store {path}: {reason}")]
    Open {
        /// The store directory as given.
        path: String,
        /// What the operating system or RocksDB said.
        reason: String,
    },
    /// A block does not extend the stored chain: its parent (or its hash at an already stored
    /// height) is `got` where the store has `expected`. The caller rolls back to the fork point and
    /// retries.
    #[error("{chain} block {height} does not extend the stored chain (expected {expected}, got {got}): roll back to the fork point first")]
    ParentMismatch {
        /// The chain's name.
        chain: String,
        /// Height of the refused block or transfer.
        height: u64,
        /// The hash the store holds (the tip, or the stored block at `height`).
        expected: Hash32,
        /// The hash the block brings (its parent, or its own hash).
        got: Hash32,
    },
    /// A linked block's height is not the stored tip's height plus one.
    #[error("{chain} block {height} does not follow the stored tip {tip}: blocks must be applied in order")]
    Gap {
        /// The chain's name.
        chain: String,
        /// Height of the stored tip.
        tip: u64,
        /// Height of the refused block.
        height: u64,
    },
    /// Two transfers of one call share a `(height, tx_index, sub)` position.
    #[error("two transfers at height {height} share position {tx_index}/{sub}: the adapter must number them uniquely")]
    DuplicatePosition {
        /// Height of the refused block or transfer.
        height: u64,
        /// Transaction index of the position.
        tx_index: u32,
        /// Sub-index of the position.
        sub: u32,
    },
    /// A different transfer is already stored at this position (possible once unlinked blocks were
    /// stored).
    #[error("a different transfer is already stored at height {height} position {tx_index}/{sub}")]
    Conflict {
        /// Height of the refused block or transfer.
        height: u64,
        /// Transaction index of the position.
        tx_index: u32,
        /// Sub-index of the position.
        sub: u32,
    },
    /// The caller's request breaks a rule of the API (a transfer whose height is not its block's,
    /// a label of another source, a chain the store does not hold, a value that does not
    /// serialize); the message names the offending value.
    #[error("invalid data: {0}")]
    Invalid(String),
    /// A stored key or row does not decode; the message names the row.
    #[error("store is corrupt: cannot decode {0}")]
    Corrupt(String),
    /// A file of the store's own (a bulk load's table files and undo record) could not be
    /// written, read or removed.
    #[error("{path}: {doing}")]
    Io {
        /// The file or directory.
        path: String,
        /// What was being done.
        doing: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Any other RocksDB failure (I/O, corruption detected by RocksDB).
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
