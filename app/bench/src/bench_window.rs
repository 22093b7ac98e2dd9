//! Window benchmark (not a test): how long `ibex-updater --demo` takes from start to its first
//! frame on screen, and how much memory (RSS) the window then holds.
//!
//! `cargo run --release --bin bench-window -- [--runs 10]`, with `DISPLAY` set (under Xvfb here,
//! which means software rendering). Each run is a fresh process; the demo is generated once,
//! before the timed runs. The first frame is the moment the window logs that its first frame
//! was presented; RSS is read from /proc two seconds later, after the instrument list and the
//! installed client have been read.

#[path = "bench_support.rs"]
mod bench_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use ibex_updater_window::FIRST_FRAME_LOG;

/// Times `ibex-updater --demo` from start to its first frame, and its memory after.
#[derive(Debug, Parser)]
struct Options {
    /// Fresh processes to time.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
}

fn main() -> Result<()> {
    let runs = usize::try_from(Options::parse().runs)?;
    ensure!(
        std::env::var_os("DISPLAY").is_some(),
        "set DISPLAY (for example run Xvfb :99 & and DISPLAY=:99)"
    );
    let updater = bench_support::updater_binary()?;
    let data = std::env::temp_dir().join(format!("ibex-bench-window-{}", std::process::id()));
    let result = bench(&updater, &data, runs);
    let _ = std::fs::remove_dir_all(&data);
    result
}

fn bench(updater: &Path, data: &Path, runs: usize) -> Result<()> {
    // Generate the demo once, so the timed runs measure start-up, not the demo's first use.
    let warm_up = measure(updater, data)?;
    println!(
        "warm-up run (generates the demo): first frame {:.0} ms",
        warm_up.0.as_secs_f64() * 1e3
    );

    let mut frames = Vec::new();
    let mut rss = Vec::new();
    for run in 1..=runs {
        let (frame, kib) = measure(updater, data)?;
        println!(
            "run {run}: first frame {:.0} ms, RSS {:.1} MB",
            frame.as_secs_f64() * 1e3,
            kib as f64 / 1024.0
        );
        frames.push(frame);
        rss.push(kib);
    }
    frames.sort();
    rss.sort_unstable();
    println!(
        "first frame: median {:.0} ms (min {:.0}, max {:.0}); target < 1000 ms",
        frames[runs / 2].as_secs_f64() * 1e3,
        frames[0].as_secs_f64() * 1e3,
        frames[runs - 1].as_secs_f64() * 1e3
    );
    println!(
        "RSS: median {:.1} MB (min {:.1}, max {:.1}); target < 100 MB (issue 15)",
        rss[runs / 2] as f64 / 1024.0,
        rss[0] as f64 / 1024.0,
        rss[runs - 1] as f64 / 1024.0
    );
    Ok(())
}

/// Starts the window, waits for its first frame, then reads its RSS (in KiB) and closes it.
fn measure(updater: &Path, data: &Path) -> Result<(Duration, u64)> {
    let log = data.join("logs").join("ibex-updater.log");
    let _ = std::fs::remove_file(&log);
    let started = Instant::now();
    let child = Command::new(updater)
        .arg("--demo")
        .env("IBEX_UPDATER_DATA_DIR", data)
        .env("IBEX_UPDATER_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("could not start the updater")?;
    let mut child = Killed(child);
    let frame = loop {
        if std::fs::read_to_string(&log).is_ok_and(|text| text.contains(FIRST_FRAME_LOG)) {
            break started.elapsed();
        }
        if let Some(status) = child.0.try_wait()? {
            bail!(
                "the window exited ({status}) before its first frame; see {}",
                log.display()
            );
        }
        ensure!(
            started.elapsed() < Duration::from_secs(60),
            "no first frame after 60 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    std::thread::sleep(Duration::from_secs(2));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.0.id()))?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc")?;
    Ok((frame, kib))
}

/// Kills the window when the measurement is done (or fails).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
