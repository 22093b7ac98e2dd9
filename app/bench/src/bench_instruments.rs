//! Instruments benchmark (not a test): times `ibex-updater instruments` (a whole run: start-up,
//! CS:INSTLIST, then every version PV in one batch) against a 60-instrument fleet on loopback.
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
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/fleet_ioc.py");
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
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let out = Command::new(updater)
            .env("EPICS_CA_ADDR_LIST", "127.0.0.1")
            .env("EPICS_CA_AUTO_ADDR_LIST", "NO")
            .env("EPICS_CA_SERVER_PORT", port.to_string())
            .args(["instruments", "--json"])
            .output()?;
        times.push(start.elapsed());
        ensure!(
            out.status.success(),
            "instruments failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let listed = doc["instruments"].as_array().map_or(0, Vec::len);
        ensure!(
            listed == instruments,
            "expected {instruments} instruments, got {listed}"
        );
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: `instruments` over {instruments} instruments, {runs} runs: median {:.1} ms, min {:.1} ms, max {:.1} ms (target < 300 ms)",
        ms(times[runs / 2]),
        ms(times[0]),
        ms(times[runs - 1])
    );
    Ok(())
}
