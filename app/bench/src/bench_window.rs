//! Window benchmark (not a test): how long `ibex-updater --demo` takes from start to its first
//! frame on screen, and how much memory (RSS) the window then holds.
//!
//! `cargo run --release --bin bench-window -- [--runs 10] [--share DIR --policy FILE]`, with
//! `DISPLAY` set (under Xvfb here, which means software rendering). Each run is a fresh process;
//! the demo is generated once, before the timed runs. The first frame is the moment the window
//! logs that its first frame was presented; RSS is read from /proc two seconds later, after the
//! instrument list and the installed client have been read. With `--share`, each run also opens
//! the window on that release share (with the policy that trusts its index), taking turns with
//! the demo: what a long share's history costs the window.

#[path = "bench_support.rs"]
mod bench_support;

use std::path::{Path, PathBuf};
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
    /// A release share to open the window on too (for example bench-index's).
    #[arg(long, value_name = "DIR", requires = "policy")]
    share: Option<PathBuf>,
    /// The machine policy for `--share` (one that trusts its index's key).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

/// What the window opens on.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    Demo,
    Share { share: &'a Path, policy: &'a Path },
}

fn main() -> Result<()> {
    let options = Options::parse();
    let runs = usize::try_from(options.runs)?;
    ensure!(
        std::env::var_os("DISPLAY").is_some(),
        "set DISPLAY (for example run Xvfb :99 & and DISPLAY=:99)"
    );
    let updater = bench_support::updater_binary()?;
    let data = std::env::temp_dir().join(format!("ibex-bench-window-{}", std::process::id()));
    let mut sources = vec![Source::Demo];
    if let (Some(share), Some(policy)) = (&options.share, &options.policy) {
        sources.push(Source::Share { share, policy });
    }
    let result = bench(&updater, &data, runs, &sources);
    let _ = std::fs::remove_dir_all(&data);
    result
}

fn bench(updater: &Path, data: &Path, runs: usize, sources: &[Source<'_>]) -> Result<()> {
    // Generate the demo once, so the timed runs measure start-up, not the demo's first use.
    let warm_up = measure(updater, data, Source::Demo)?;
    println!(
        "warm-up run (generates the demo): first frame {:.0} ms",
        warm_up.0.as_secs_f64() * 1e3
    );
    println!("machine load: {}", bench_support::load_average());
    let mut results = vec![(Vec::new(), Vec::new()); sources.len()];
    for run in 1..=runs {
        for (source, (frames, rss)) in sources.iter().zip(&mut results) {
            let (frame, kib) = measure(updater, data, *source)?;
            println!(
                "run {run}, {}: first frame {:.0} ms, RSS {:.1} MB",
                source.name(),
                frame.as_secs_f64() * 1e3,
                kib as f64 / 1024.0
            );
            frames.push(frame);
            rss.push(kib);
        }
    }
    for (source, (frames, rss)) in sources.iter().zip(&mut results) {
        println!("{}:", source.name());
        report(frames, rss, runs);
    }
    Ok(())
}

impl Source<'_> {
    fn name(&self) -> String {
        match self {
            Source::Demo => "the demo".into(),
            Source::Share { share, .. } => share.display().to_string(),
        }
    }
}

fn report(frames: &mut [Duration], rss: &mut [u64], runs: usize) {
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
}

/// Starts the window, waits for its first frame, then reads its RSS (in KiB) and closes it.
fn measure(updater: &Path, data: &Path, source: Source<'_>) -> Result<(Duration, u64)> {
    let log = data.join("logs").join("ibex-updater.log");
    let _ = std::fs::remove_file(&log);
    let started = Instant::now();
    let mut command = Command::new(updater);
    match source {
        Source::Demo => command.arg("--demo"),
        Source::Share { share, policy } => command
            .env("IBEX_UPDATER_POLICY", policy)
            .arg("--source")
            .arg(share)
            .arg("--install-root")
            .arg(data.join("share-root")),
    };
    let child = command
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
