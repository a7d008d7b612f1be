//! What every command needs: the config, the store location and the output mode.

use std::path::PathBuf;

use anyhow::Result;
use chaintrace_store::Store;

use crate::{config::Config, Cli};

pub struct Context {
    pub store_path: PathBuf,
    pub config: Config,
    pub json: bool,
}

impl Context {
    pub fn new(cli: &Cli) -> Result<Context> {
        Ok(Context { store_path: cli.store.clone(), config: Config::load(cli.config.as_deref())?, json: cli.json })
    }

    /// Open (or create) the store; errors already say what to do.
    pub fn open_store(&self) -> Result<Store> {
        Ok(Store::open(&self.store_path)?)
    }
}
