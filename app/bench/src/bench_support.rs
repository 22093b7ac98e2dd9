//! What the benchmark binaries share. (Included with `#[path]`: it is not a binary itself.)
// Each benchmark uses a part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};

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

/// The middle of the measured times.
pub fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Runs a command to completion, failing with its stderr.
pub fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("could not run {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Writes out dirty pages before a timed phase, so that neither side pays for the other's
/// writeback.
pub fn settle() -> Result<()> {
    run(&mut Command::new("sync"))
}
