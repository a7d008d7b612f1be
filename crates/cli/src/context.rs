//! What every command needs: the config, the store location and the output mode.

use std::path::PathBuf;

use anyhow::Result;
use chaintrace_store::{ReadScope, Store, StoreError};

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
        Store::open(&self.store_path).map_err(open_error)
    }

    /// Open the store for reading only (`chaintrace trace`): no write, no log replayed into new
    /// table files, a lighter open ([`Store::open_read_only`], sized by `scope`). A path that holds no store yet
    /// is opened as [`Context::open_store`] does (created when missing or empty, refused
    /// otherwise), so the command behaves as before there.
    pub(crate) fn open_store_read_only(&self, scope: ReadScope) -> Result<Store> {
        if !self.store_path.join("CURRENT").is_file() {
            return self.open_store();
        }
        Store::open_read_only(&self.store_path, scope).map_err(open_error)
    }

    /// [`Context::open_store`] for a bulk load: block batches' largest families go in as
    /// ingested table files ([`Store::open_bulk`]).
    pub(crate) fn open_store_bulk(&self) -> Result<Store> {
        Store::open_bulk(&self.store_path).map_err(open_error)
    }
}

/// A store open error with what to do about it leading the one-line report.
fn open_error(e: StoreError) -> anyhow::Error {
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
}
