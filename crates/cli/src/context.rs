//! What every command needs: the config, the store location and the output mode.

use std::path::PathBuf;

use anyhow::Result;
use chaintrace_store::{Store, StoreError};

use crate::{config::Config, Cli};

pub(crate) struct Context {
    pub store_path: PathBuf,
    pub config: Config,
    pub json: bool,
}

impl Context {
    pub(crate) fn new(cli: &Cli) -> Result<Context> {
        Ok(Context { store_path: cli.store.clone(), config: Config::load(cli.config.as_deref())?, json: cli.json })
    }

    /// Open (or create) the store; an error says what was wrong and what to do about it.
    pub(crate) fn open_store(&self) -> Result<Store> {
        Self::with_hint(Store::open(&self.store_path))
    }

    /// [`Context::open_store`] for a bulk load: block batches skip the write-ahead log and are
    /// persisted by atomic flushes ([`Store::open_bulk`]).
    pub(crate) fn open_store_bulk(&self) -> Result<Store> {
        Self::with_hint(Store::open_bulk(&self.store_path))
    }

    fn with_hint(opened: Result<Store, StoreError>) -> Result<Store> {
        opened.map_err(|e| {
            let hint = match &e {
                StoreError::NotADirectory { .. } => "pass --store with a directory path",
                StoreError::Unreadable { .. } => "check its permissions",
                StoreError::NotAStore { .. } => "pass --store with a new or existing store directory",
                StoreError::Locked { .. } => "wait for it to finish or use another --store",
                StoreError::FormatVersion { .. } => "re-ingest into a new store (--store DIR)",
                StoreError::Open { .. } => "check --store; a damaged store must be re-ingested into a new directory",
                _ => return anyhow::Error::new(e),
            };
            // The hint leads the chain; the store's own message, contained in it, is not
            // repeated on the one-line report.
            let line = format!("{e}: {hint}");
            anyhow::Error::new(e).context(line)
        })
    }
}
