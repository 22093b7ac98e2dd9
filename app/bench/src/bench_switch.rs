//! Switch benchmark (not a test): a scientist who works with two instruments on different
//! releases switches client every time. With both releases kept, `ibex-updater install` of the
//! other one is a swap; this times it, interleaved with a full install of the same release into
//! an empty install root, on the client-sized share of `bench-install`.
//!
//! `cargo run --release --bin bench-switch -- [--files 20000] [--megabytes 600] [--rounds 10]`

#[path = "bench_share.rs"]
mod bench_share;
#[path = "bench_support.rs"]
mod bench_support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use bench_share::{STEADY, Updater, remove_if_there};
use bench_support::settle;
use clap::Parser;

/// Times switching between two kept releases against a full install.
#[derive(Debug, Parser)]
struct Options {
    /// Files in the generated client.
    #[arg(long, default_value_t = 20_000)]
    files: usize,
    /// Its total size.
    #[arg(long, default_value_t = 600)]
    megabytes: u64,
    /// Switches each way (and full installs).
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Where the share and the install roots go (the share is `bench-install`'s).
    #[arg(long, default_value = "target/bench-install")]
    dir: PathBuf,
}

fn main() -> Result<()> {
    let mut options = Options::parse();
    ensure!(options.rounds > 0, "--rounds must be at least 1");
    options.dir = std::path::absolute(&options.dir)?;
    let seven_zip = bench_share::seven_zip()?;
    let updater = bench_support::updater_binary()?;
    let share = bench_share::prepare(
        &options.dir,
        options.files,
        options.megabytes,
        seven_zip,
        &updater,
    )?;
    let switching = Updater {
        exe: &updater,
        share: &share.root,
        policy: &share.policy,
        data: options.dir.join("updater-data"),
        root: options.dir.join("switch-root"),
        sync: true,
    };
    let full = Updater {
        root: options.dir.join("switch-full-install"),
        ..switching.clone()
    };
    remove_if_there(&switching.root)?;
    for release in [STEADY[0], STEADY[1]] {
        switching.install(release)?;
    }

    let (mut switches, mut installs) = (Vec::new(), Vec::new());
    for round in 0..options.rounds {
        // The release that is kept, not installed, at this point.
        let release = STEADY[round % 2];
        let time_switch = || timed(|| switching.install(release));
        let time_install = || {
            remove_if_there(&full.root)?;
            timed(|| full.install(release))
        };
        // Each goes first in turn, so that neither always follows the other.
        let (switch, install) = if round % 2 == 0 {
            let switch = time_switch()?;
            (switch, time_install()?)
        } else {
            let install = time_install()?;
            (time_switch()?, install)
        };
        println!(
            "round {}: switch to {release} {:.3}s; full install {:.2}s",
            round + 1,
            switch.as_secs_f64(),
            install.as_secs_f64()
        );
        switches.push(switch);
        installs.push(install);
    }
    remove_if_there(&full.root)?;
    let switch = bench_support::median(&mut switches);
    let install = bench_support::median(&mut installs);
    println!(
        "\nmedian of {} rounds (load {}): switch {:.3}s (goal < 1 s), full install {:.2}s, {:.3}x",
        options.rounds,
        bench_support::load_average(),
        switch.as_secs_f64(),
        install.as_secs_f64(),
        switch.as_secs_f64() / install.as_secs_f64(),
    );
    Ok(())
}

/// The wall time of `phase`, after the disk has settled.
fn timed(phase: impl FnOnce() -> Result<()>) -> Result<Duration> {
    settle()?;
    let start = Instant::now();
    phase()?;
    Ok(start.elapsed())
}
