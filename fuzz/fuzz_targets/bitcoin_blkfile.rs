//! Untrusted blk file bytes (plain and XORed) → index, best chain, block reads: errors, never
//! panics, never allocates from a length it did not check.
#![no_main]

use chaintrace_bitcoin::{bitcoin::Network, BlocksDir};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile_dir() else { return };
    let (key, body) = if data.len() > 8 && data[0] & 1 == 1 { (Some(&data[1..9]), &data[9..]) } else { (None, data) };
    if std::fs::write(dir.join("blk00000.dat"), body).is_err() {
        return;
    }
    if let Some(k) = key {
        let _ = std::fs::write(dir.join("xor.dat"), k);
    }
    if let Ok(bd) = BlocksDir::open(&dir, Network::Bitcoin) {
        if let Ok(idx) = bd.scan() {
            if let Ok(chain) = idx.best_chain_from_genesis(Network::Bitcoin) {
                let mut r = bd.reader();
                let mut buf = Vec::new();
                for cb in chain.iter().take(50) {
                    let _ = r.read_block(&cb.loc, &mut buf);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
});

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("ct-fuzz-blk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
