//! What the benchmark binaries share. (Included with `#[path]`: it is not a binary itself.)
#![allow(clippy::disallowed_methods)] // the test's own peers and readers run on plain threads
// Each benchmark uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
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

/// The load average, which the figures should be read against.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Io {
    /// Bytes sent to the disk (`write_bytes`: pages dirtied, whenever they are written back),
    /// the filesystem's own blocks for new folders and names included.
    pub written: u64,
    /// Bytes passed to write calls (`wchar`): what the processes wrote themselves (files, the
    /// tree's record, journals, logs), without the filesystem's own blocks.
    pub written_by_calls: u64,
    /// Bytes read through system calls (`rchar`), from the disk or its cache.
    pub read: u64,
}

impl Io {
    /// This process's counters, which include every child it has waited for.
    pub fn now() -> Result<Io> {
        let text = std::fs::read_to_string("/proc/self/io").context("read /proc/self/io")?;
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
                .with_context(|| format!("no {name} in /proc/self/io"))
        };
        Ok(Io {
            written: field("write_bytes:")?,
            written_by_calls: field("wchar:")?,
            read: field("rchar:")?,
        })
    }
}

/// A fleet server process, killed on drop.
pub struct Server(Child);

impl Server {
    pub fn start(mut command: Command) -> Result<Server> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let server = Server(child);
        let mut lines = BufReader::new(stdout).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.starts_with("READY") || line.starts_with("serving") => break,
                Some(_) => {}
                None => bail!("the fleet server exited before it was ready"),
            }
        }
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        std::thread::sleep(Duration::from_millis(500));
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> Result<u16> {
    Ok(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}
