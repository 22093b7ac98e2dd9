//! Download benchmark (not a test): nginx on 127.0.0.1 serves a 600 MB archive, and the same run
//! times the updater's download (streamed to its cache, hashed as it arrives, then checked against
//! the SHA-256 an index would give) side by side with `curl -o FILE` alone, and with
//! `curl -o FILE && sha256sum FILE`.
//!
//! `cargo run --release --bin bench-download -- [--megabytes 600] [--rounds 5]`
//! (needs nginx and curl: `apt-get install nginx curl`).

#[path = "bench_support.rs"]
mod bench_support;

use std::fs;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use bench_support::{median, run, settle};
use clap::Parser;
use ibex_updater_core::digest;
use ibex_updater_core::progress::NoProgress;
use ibex_updater_core::retry::Retry;
use ibex_updater_core::source::download::{self, MinRate, Wanted};
use ibex_updater_core::source::http;

/// Times the updater's download against curl, from nginx on loopback.
#[derive(Debug, Parser)]
struct Options {
    /// Size of the archive served.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    megabytes: u64,
    /// Rounds of each contender, interleaved.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    rounds: u64,
}

fn main() -> Result<()> {
    let Options { megabytes, rounds } = Options::parse();
    let rounds = usize::try_from(rounds)?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-download");
    let www = dir.join("www");
    let archive = www.join("archive.7z");
    ensure_archive(&archive, megabytes << 20)?;
    let (size, sha256) = digest::of_file(&archive)?;
    let port = free_port()?;
    let _nginx = Nginx::start(&dir, &www, port)?;
    let url = format!("http://127.0.0.1:{port}/archive.7z");
    let clients = http::clients(Duration::from_secs(30), None, &[])?;
    let wanted = Wanted {
        url: &url,
        size,
        sha256: &sha256,
    };
    let cache = dir.join("cache");
    let curl_out = dir.join("curl.7z");

    println!(
        "{} MB from nginx on 127.0.0.1, {rounds} rounds",
        size / 1_000_000
    );
    let (mut ours, mut curl, mut curl_sha) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let _ = fs::remove_dir_all(&cache);
        let _ = fs::remove_file(&curl_out);
        settle()?;
        let start = Instant::now();
        download::download(
            &clients,
            &wanted,
            &cache,
            Retry::default(),
            MinRate::over(Duration::from_secs(30)),
            &NoProgress,
        )?;
        let updater = start.elapsed();

        settle()?;
        let start = Instant::now();
        run(Command::new("curl")
            .args(["-sS", "-o"])
            .arg(&curl_out)
            .arg(&url))?;
        let curl_alone = start.elapsed();
        let out = Command::new("sha256sum")
            .arg(&curl_out)
            .output()
            .context("could not run sha256sum")?;
        let with_sha = start.elapsed();
        ensure!(
            String::from_utf8_lossy(&out.stdout).starts_with(&sha256),
            "curl's file has another hash"
        );

        println!(
            "round {round}: updater {:.2} s, curl {:.2} s, curl + sha256sum {:.2} s",
            updater.as_secs_f64(),
            curl_alone.as_secs_f64(),
            with_sha.as_secs_f64()
        );
        ours.push(updater);
        curl.push(curl_alone);
        curl_sha.push(with_sha);
    }
    let (ours, curl, curl_sha) = (median(&mut ours), median(&mut curl), median(&mut curl_sha));
    println!(
        "median: updater (download + SHA-256 + check) {:.2} s, curl alone {:.2} s, curl + sha256sum {:.2} s",
        ours.as_secs_f64(),
        curl.as_secs_f64(),
        curl_sha.as_secs_f64()
    );
    println!(
        "ratio updater / curl alone: {:.2} (goal <= 0.9x, issue 15); updater / (curl + sha256sum): {:.2}",
        ours.as_secs_f64() / curl.as_secs_f64(),
        ours.as_secs_f64() / curl_sha.as_secs_f64()
    );
    Ok(())
}

/// Fills `path` with `len` bytes that do not compress, once.
fn ensure_archive(path: &Path, len: u64) -> Result<()> {
    if fs::metadata(path).is_ok_and(|m| m.len() == len) {
        return Ok(());
    }
    fs::create_dir_all(path.parent().context("no parent")?)?;
    let mut file = std::io::BufWriter::new(fs::File::create(path)?);
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut block = vec![0u8; 1 << 20];
    let mut written = 0u64;
    while written < len {
        for chunk in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        let n = (len - written).min(block.len() as u64) as usize;
        file.write_all(&block[..n])?;
        written += n as u64;
    }
    file.flush()?;
    Ok(())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// nginx in the foreground with a configuration of its own, stopped when dropped.
struct Nginx(Child);

impl Nginx {
    fn start(dir: &Path, www: &Path, port: u16) -> Result<Nginx> {
        let prefix = dir.join("nginx");
        fs::create_dir_all(prefix.join("logs"))?;
        let conf: PathBuf = prefix.join("nginx.conf");
        fs::write(
            &conf,
            format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\nerror_log {p}/logs/error.log;\npid {p}/nginx.pid;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{ access_log off; sendfile on; server {{ listen 127.0.0.1:{port}; root {www}; }} }}\n",
                p = prefix.display(),
                www = www.display()
            ),
        )?;
        let child = Command::new("nginx")
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("could not start nginx (apt-get install nginx)")?;
        let nginx = Nginx(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            ensure!(
                Instant::now() < deadline,
                "nginx did not start listening on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(nginx)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
