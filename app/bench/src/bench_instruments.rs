//! Instruments benchmark (not a test): times `ibex-updater instruments` and `ibex-updater fleet`
//! (each a whole run: start-up, CS:INSTLIST, then every version PV in one batch; `fleet` also
//! reads a release share to compare with) against a 60-instrument fleet on loopback, taking turns.
//!
//! `cargo run --release --bin bench-instruments -- [--instruments 60] [--runs 20] [--python PY]`
//!
//! The fleet is the updater's own demo server; with `--python` (a Python with `softioc`), the same
//! runs are also timed against EPICS Base's soft IOC.

#[path = "bench_support.rs"]
mod bench_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use clap::Parser;

/// Times `ibex-updater instruments` against a fleet on loopback.
#[derive(Debug, Parser)]
struct Options {
    /// Instruments in the fleet.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    instruments: u64,
    /// Timed runs against each server.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
    /// A Python with `softioc`, to time the same runs against EPICS Base's soft IOC too.
    #[arg(long)]
    python: Option<PathBuf>,
}

fn main() -> Result<()> {
    let options = Options::parse();
    let (instruments, runs, python) = (
        usize::try_from(options.instruments)?,
        usize::try_from(options.runs)?,
        options.python,
    );
    let updater = bench_support::updater_binary()?;

    let port = bench_support::free_port()?;
    let mut fleet = Command::new(&updater);
    fleet.args([
        "demo-fleet",
        "--size",
        &instruments.to_string(),
        "--port",
        &port.to_string(),
    ]);
    let server = bench_support::Server::start(fleet)?;
    report("ibex-updater demo fleet", &updater, port, instruments, runs)?;
    drop(server);

    if let Some(python) = python {
        let port = bench_support::free_port()?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers/fleet_ioc.py");
        let mut ioc = Command::new(python);
        ioc.arg(script)
            .args(["softioc", &instruments.to_string(), "--all-answer"]);
        ioc.env("EPICS_CA_SERVER_PORT", port.to_string())
            .env("EPICS_CAS_INTF_ADDR_LIST", "127.0.0.1");
        let server = bench_support::Server::start(ioc)?;
        report("EPICS Base soft IOC", &updater, port, instruments, runs)?;
        drop(server);
    }
    Ok(())
}

fn report(label: &str, updater: &Path, port: u16, instruments: usize, runs: usize) -> Result<()> {
    // `fleet` compares with a release share: one folder per release, as the real share has.
    let scratch = tempfile::tempdir()?;
    let share = scratch.path().join("Releases");
    for release in ["25.8.0", "26.2.0", "26.2.1", "26.8.0"] {
        std::fs::create_dir_all(share.join(release))?;
    }
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..runs {
        for (command, times) in ["instruments", "fleet"].into_iter().zip(&mut times) {
            bench_support::settle()?;
            let start = Instant::now();
            let out = Command::new(updater)
                .env("EPICS_CA_ADDR_LIST", "127.0.0.1")
                .env("EPICS_CA_AUTO_ADDR_LIST", "NO")
                .env("EPICS_CA_SERVER_PORT", port.to_string())
                // Nothing of this machine's own settings, policy or user data.
                .env("IBEX_UPDATER_POLICY", scratch.path().join("no-policy.toml"))
                .env("IBEX_UPDATER_DATA_DIR", scratch.path().join("data"))
                .env("IBEX_UPDATER_SOURCE", &share)
                .args([command, "--json"])
                .output()?;
            times.push(start.elapsed());
            ensure!(
                out.status.success(),
                "{command} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout)?;
            let listed = doc["instruments"].as_array().map_or(0, Vec::len);
            ensure!(
                listed == instruments,
                "{command}: expected {instruments} instruments, got {listed}"
            );
            if command == "fleet" {
                ensure!(
                    doc["newest"] == "26.8.0",
                    "fleet did not read the share: {doc}"
                );
            }
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for (command, times) in ["instruments", "fleet"].into_iter().zip(&mut times) {
        times.sort();
        println!(
            "{label}: `{command}` over {instruments} instruments, {runs} runs (load {}): median {:.1} ms, min {:.1} ms, max {:.1} ms (target < 300 ms)",
            bench_support::load_average(),
            ms(times[runs / 2]),
            ms(times[0]),
            ms(times[runs - 1])
        );
    }
    Ok(())
}
