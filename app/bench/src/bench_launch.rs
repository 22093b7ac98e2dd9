//! Launch benchmark (not a test): how much later the IBEX GUI starts through `ibex-updater launch`
//! on a matching client (instrument looked up in CS:INSTLIST, its server version read over
//! Channel Access, the GUI's preference written, the GUI started detached) than when the same
//! program is started directly. Target: less than 300 ms.
//!
//! `cargo run --release --bin bench-launch -- [--runs 20]`
//!
//! The instrument is the updater's own demo fleet on loopback. The "GUI" is a shell script that
//! writes the time it started; both sides are timed from just before their process is spawned to
//! that time, interleaved, with `sync` before each.

#[path = "bench_support.rs"]
mod bench_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;

/// Times `launch` on a matching client against starting the GUI program directly.
#[derive(Debug, Parser)]
struct Options {
    /// Timed pairs of runs.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
}

fn main() -> Result<()> {
    let runs = usize::try_from(Options::parse().runs)?;
    let updater = bench_support::updater_binary()?;
    let dir = tempfile::tempdir()?;
    let port = bench_support::free_port()?;
    let mut fleet = Command::new(&updater);
    fleet.args(["demo-fleet", "--size", "60", "--port", &port.to_string()]);
    let _fleet = bench_support::Server::start(fleet)?;
    let setup = Setup::new(dir.path(), &updater, port)?;

    let (mut direct, mut launched, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        bench_support::settle()?;
        let d = setup.time_direct()?;
        bench_support::settle()?;
        let l = setup.time_launch()?;
        ratios.push(l.as_secs_f64() / d.as_secs_f64());
        direct.push(d);
        launched.push(l);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (d, l) = (
        bench_support::median(&mut direct),
        bench_support::median(&mut launched),
    );
    ratios.sort_by(f64::total_cmp);
    println!(
        "GUI program started directly: median {:.1} ms (min {:.1}, max {:.1})",
        ms(d),
        ms(direct[0]),
        ms(direct[runs - 1])
    );
    println!(
        "through `launch --instrument {}` (check, preference, start): median {:.1} ms (min {:.1}, max {:.1})",
        setup.instrument,
        ms(l),
        ms(launched[0]),
        ms(launched[runs - 1])
    );
    println!(
        "launch adds {:.1} ms (median of each; target < 300 ms); pair by pair {:.1}x median, over {runs} interleaved pairs",
        ms(l.saturating_sub(d)),
        ratios[runs / 2]
    );
    println!(
        "machine load (1, 5, 15 min): {}",
        bench_support::load_average()
    );
    Ok(())
}

struct Setup {
    updater: PathBuf,
    root: PathBuf,
    gui: PathBuf,
    stamp: PathBuf,
    env: Vec<(&'static str, String)>,
    instrument: String,
}

impl Setup {
    /// An install root whose client matches the first instrument of the fleet, and whose GUI is
    /// the stamping script.
    fn new(dir: &Path, updater: &Path, port: u16) -> Result<Setup> {
        let policy = dir.join("policy.toml");
        fs::write(&policy, "")?;
        let env = vec![
            ("EPICS_CA_ADDR_LIST", "127.0.0.1".to_string()),
            ("EPICS_CA_AUTO_ADDR_LIST", "NO".to_string()),
            ("EPICS_CA_SERVER_PORT", port.to_string()),
            ("IBEX_UPDATER_POLICY", policy.display().to_string()),
            (
                "IBEX_UPDATER_DATA_DIR",
                dir.join("data").display().to_string(),
            ),
            ("HOME", dir.join("home").display().to_string()),
        ];
        let out = Command::new(updater)
            .envs(env.iter().cloned())
            .args(["instruments", "--json"])
            .output()?;
        ensure!(
            out.status.success(),
            "instruments failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let first = &doc["instruments"][0];
        let instrument = first["name"].as_str().context("no instrument")?.to_string();
        let version = first["server_version"]
            .as_str()
            .context("no version")?
            .to_string();

        let root = dir.join("Apps");
        for component in ["Client_E4", "Python3"] {
            fs::create_dir_all(root.join(component))?;
            fs::write(root.join(component).join("VERSION.txt"), &version)?;
        }
        let gui = root.join("Client_E4").join("ibex-client");
        let stamp = dir.join("started");
        fs::write(
            &gui,
            "#!/bin/sh\ndate +%s%N > \"$IBEX_BENCH_STAMP.partial\"\nmv \"$IBEX_BENCH_STAMP.partial\" \"$IBEX_BENCH_STAMP\"\n",
        )?;
        make_executable(&gui)?;
        Ok(Setup {
            updater: updater.to_path_buf(),
            root,
            gui,
            stamp,
            env,
            instrument,
        })
    }

    fn time_direct(&self) -> Result<Duration> {
        let _ = fs::remove_file(&self.stamp);
        let start = SystemTime::now();
        let status = Command::new(&self.gui)
            .current_dir(self.root.join("Client_E4"))
            .env("IBEX_BENCH_STAMP", &self.stamp)
            .status()?;
        ensure!(status.success(), "the GUI script failed");
        self.started_after(start)
    }

    fn time_launch(&self) -> Result<Duration> {
        let _ = fs::remove_file(&self.stamp);
        let start = SystemTime::now();
        let out = Command::new(&self.updater)
            .envs(self.env.iter().cloned())
            .env("IBEX_BENCH_STAMP", &self.stamp)
            .arg("--install-root")
            .arg(&self.root)
            .args(["launch", "--json", "--instrument", &self.instrument])
            .output()?;
        ensure!(
            out.status.success(),
            "launch failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        ensure!(
            doc["check"]["status"] == "matches",
            "the client should match: {doc}"
        );
        self.started_after(start)
    }

    /// How long after `start` the GUI script stamped its start (it runs detached under launch).
    fn started_after(&self, start: SystemTime) -> Result<Duration> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let text = loop {
            if let Ok(text) = fs::read_to_string(&self.stamp) {
                break text;
            }
            if std::time::Instant::now() > deadline {
                bail!("the GUI never started");
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let nanos: u64 = text.trim().parse().context("the stamp is not a time")?;
        let started = UNIX_EPOCH + Duration::from_nanos(nanos);
        Ok(started.duration_since(start).unwrap_or_default())
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<()> {
    bail!("bench-launch's stand-in GUI is a shell script: run it on Linux")
}
