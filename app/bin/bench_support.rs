//! What the benchmark binaries share. (Included with `#[path]`: it is not a binary itself.)

use std::path::PathBuf;

use anyhow::{Result, ensure};

/// The `ibex-updater` built beside the running benchmark, which is the binary it times.
pub fn updater_binary() -> Result<PathBuf> {
    let updater = std::env::current_exe()?
        .with_file_name(format!("ibex-updater{}", std::env::consts::EXE_SUFFIX));
    ensure!(
        updater.is_file(),
        "build the updater first: cargo build --release (looked for {})",
        updater.display()
    );
    Ok(updater)
}
