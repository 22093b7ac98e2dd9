//! Index benchmark (not a test): the signed metadata of a share with years of releases.
//!
//! `cargo run --release --bin bench-index -- [--releases 60] [--gui-files 5000]
//! [--genie-files 50000] [--runs 20]`
//!
//! Generates (once, under `target/bench-index/`) a share of `--releases` releases, each with a
//! GUI kit and a genie_python kit of realistic file counts; the kits are hard links of three
//! archives of each component, so the share takes little room and little time to make. It then
//! measures, each figure from this process's `/proc/self/io` (which counts the processes it
//! waited for) and `sync` before each timed phase:
//!
//! - `publish` of the whole share (every archive read), then after adding one release (only its
//!   archives read), then `--refresh` (no archive read): time and bytes read;
//! - the signed metadata's size, and what `status` reads of it;
//! - `status` against that share, interleaved with `status` against the demo share and against
//!   a share of `--legacy-releases` releases signed in index format 1 (what `publish` wrote
//!   before format 2): median time, and peak memory (through Python's `getrusage`);
//! - an install of one release's GUI: the bytes of signed metadata it read, from the updater's
//!   own debug log.

#[path = "bench_share.rs"]
mod bench_share;
#[path = "bench_support.rs"]
mod bench_support;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use bench_support::{Io, median, run, settle};
use clap::Parser;
use ibex_updater_core::index::{ManifestRef, manifest};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Options {
    /// Releases on the share.
    #[arg(long, default_value_t = 60)]
    releases: usize,
    /// Files in each GUI kit.
    #[arg(long, default_value_t = 5_000)]
    gui_files: usize,
    /// Files in each genie_python kit.
    #[arg(long, default_value_t = 50_000)]
    genie_files: usize,
    /// Releases of the format 1 share `status` is compared with (format 1 passes its 256 MiB cap
    /// at about 24 releases of these kits).
    #[arg(long, default_value_t = 12)]
    legacy_releases: usize,
    /// Runs of each `status`.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    #[arg(long, default_value = "target/bench-index")]
    dir: PathBuf,
}

/// Distinct archives of each component, which the releases take in turn.
const VARIANTS: usize = 3;

fn main() -> Result<()> {
    let options = Options::parse();
    ensure!(
        options.releases >= 2 && options.runs > 0 && options.legacy_releases > 0,
        "--releases must be at least 2, --runs and --legacy-releases at least 1"
    );
    let dir = std::path::absolute(&options.dir)?;
    let updater = bench_support::updater_binary()?;
    let seven_zip = bench_share::seven_zip()?;
    let bench = Bench::prepare(&dir, &options, &updater, seven_zip)?;
    println!("machine load: {}", bench_support::load_average());

    // publish: the whole share, one release more, and a refresh.
    let _ = fs::remove_file(bench.share.join("index.json"));
    let _ = fs::remove_dir_all(bench.share.join("manifests"));
    let full = bench.measure(|| bench.publish(&["--source-id", "bench"]))?;
    let archives = archive_bytes(&bench.share)?;
    println!(
        "publish, {} releases: {:.1} s, {:.0} MB read for {:.0} MB of archives ({:.2}x)",
        options.releases,
        full.0.as_secs_f64(),
        full.1.read as f64 / 1e6,
        archives as f64 / 1e6,
        full.1.read as f64 / archives as f64
    );
    let index_size = fs::metadata(bench.share.join("index.json"))?.len();
    let manifests = dir_bytes(&bench.share.join("manifests"))?;
    println!(
        "signed metadata: index.json {:.0} kB; {} manifests, {:.1} MB in all (each read only by a command that needs its kit)",
        index_size as f64 / 1e3,
        fs::read_dir(bench.share.join("manifests"))?.count(),
        manifests as f64 / 1e6
    );
    let added = bench.add_release(options.releases)?;
    let one_more = bench.measure(|| bench.publish(&[]))?;
    let added_bytes: u64 = added
        .iter()
        .map(|a| fs::metadata(a).map(|m| m.len()))
        .sum::<Result<u64, _>>()?;
    let beside = one_more.1.read.saturating_sub(index_size);
    println!(
        "publish after adding one release: {:.2} s, {:.1} MB read besides the previous index, for {:.1} MB of new archives ({:.3}x; goal <= 1.1x)",
        one_more.0.as_secs_f64(),
        beside as f64 / 1e6,
        added_bytes as f64 / 1e6,
        beside as f64 / added_bytes as f64
    );
    let refresh = bench.measure(|| bench.publish(&["--refresh"]))?;
    println!(
        "publish --refresh: {:.2} s, {:.2} MB read (no archive)",
        refresh.0.as_secs_f64(),
        refresh.1.read as f64 / 1e6
    );

    // status: this share, the demo share and a format 1 share, taking turns.
    let contenders = [
        ("format 2, this share", bench.status_command(&bench.share)),
        ("the demo share", bench.demo_status_command()),
        (
            "format 1",
            bench.status_command(&bench.legacy_share(options.legacy_releases)?),
        ),
    ];
    let mut times = vec![Vec::new(); contenders.len()];
    let mut reads = vec![Vec::new(); contenders.len()];
    for round in 0..options.runs {
        for offset in 0..contenders.len() {
            let n = (round + offset) % contenders.len();
            let (time, io) = bench.measure(|| run(&mut rebuild(&contenders[n].1)))?;
            times[n].push(time);
            reads[n].push(io.read);
        }
    }
    for (n, (name, command)) in contenders.iter().enumerate() {
        let peak = peak_memory_kib(command)?;
        reads[n].sort_unstable();
        println!(
            "status, {name}: median {:.1} ms (of {}), peak memory {:.1} MB, {:.2} MB read",
            median(&mut times[n]).as_secs_f64() * 1e3,
            options.runs,
            peak as f64 / 1024.0,
            reads[n][reads[n].len() / 2] as f64 / 1e6
        );
    }

    // An install: the signed metadata it reads.
    let release = bench.release_name(options.releases - 1);
    let metadata = bench.install_metadata_bytes(&release)?;
    println!(
        "install of {release}'s GUI: {:.0} kB of signed metadata read (the index and that kit's manifest)",
        metadata as f64 / 1e3
    );
    bench.remove_release(options.releases)?;
    Ok(())
}

struct Bench {
    share: PathBuf,
    dir: PathBuf,
    updater: PathBuf,
    key: PathBuf,
    policy: PathBuf,
    /// The archives each release takes in turn, by component.
    templates: Vec<(PathBuf, PathBuf)>,
}

impl Bench {
    /// The share of `options`, made if it is not there yet, and a key and a policy.
    fn prepare(dir: &Path, options: &Options, updater: &Path, seven_zip: &str) -> Result<Bench> {
        let base = dir.join(format!(
            "v1-{}-{}-{}",
            options.releases, options.gui_files, options.genie_files
        ));
        let share = base.join("Releases");
        let templates = (0..VARIANTS)
            .map(|v| {
                let at = base.join("templates").join(v.to_string());
                (at.join("Client.7z"), at.join("Python.7z"))
            })
            .collect::<Vec<_>>();
        let done = base.join("complete");
        let keys = dir.join("keys");
        let bench = Bench {
            share,
            dir: dir.to_path_buf(),
            updater: updater.to_path_buf(),
            key: keys.join("bench.key"),
            policy: dir.join("policy.toml"),
            templates,
        };
        if !done.is_file() {
            let _ = fs::remove_dir_all(&base);
            for (v, (gui, genie)) in bench.templates.iter().enumerate() {
                println!("generating the kits of variant {v} ...");
                let trees = base.join("trees").join(v.to_string());
                generate(
                    &trees.join("gui"),
                    "plugins",
                    options.gui_files,
                    v,
                    "ibex-client.exe",
                )?;
                generate(
                    &trees.join("genie"),
                    "Lib/site-packages",
                    options.genie_files,
                    v,
                    "python.exe",
                )?;
                archive(seven_zip, &trees.join("gui"), gui)?;
                archive(seven_zip, &trees.join("genie"), genie)?;
                fs::remove_dir_all(&trees)?;
            }
            for r in 0..options.releases {
                bench.add_release(r)?;
            }
            fs::write(&done, "")?;
        }
        if !bench.key.is_file() {
            fs::create_dir_all(&keys)?;
            run(Command::new(updater)
                .args(["keygen", "--name", "bench", "--out-dir"])
                .arg(&keys))?;
        }
        let public = fs::read_to_string(keys.join("bench.pub"))?;
        let line = public.lines().last().context("an empty public key file")?;
        fs::write(&bench.policy, format!("trusted_keys = ['{line}']\n"))?;
        Ok(bench)
    }

    /// Release `n`'s folder name: six releases a year, as `X.2.0` to `X.8.2`.
    fn release_name(&self, n: usize) -> String {
        let minor = if (n / 3).is_multiple_of(2) { 2 } else { 8 };
        format!("{}.{minor}.{}", 17 + n / 6, n % 3)
    }

    /// Puts release `n` on the share, its archives hard links of a template (a copy for the
    /// release added after the first publish, as a new release's archives are new files).
    /// Returns its archives.
    fn add_release(&self, n: usize) -> Result<Vec<PathBuf>> {
        let name = self.release_name(n);
        let release = self.share.join(&name);
        let (gui, genie) = &self.templates[n % VARIANTS];
        let mut archives = Vec::new();
        for (kit, archive, template, version_dir) in [
            ("Client", "Client.7z", gui, "Client/Client"),
            ("genie_python_3", "Python.7z", genie, "genie_python_3"),
        ] {
            let zips = release.join(kit).join("zips");
            fs::create_dir_all(&zips)?;
            fs::create_dir_all(release.join(version_dir))?;
            let to = zips.join(archive);
            let _ = fs::remove_file(&to);
            if release_is_new(&self.share) {
                fs::copy(template, &to)?;
            } else {
                fs::hard_link(template, &to)?;
            }
            fs::write(
                release.join(version_dir).join("VERSION.txt"),
                format!("{name}\r\n"),
            )?;
            fs::write(
                release.join(version_dir).join("BUILD_NUMBER.txt"),
                format!("{}\r\n", 1000 + n),
            )?;
            fs::write(release.join(kit).join("COPY_COMPLETE.txt"), "")?;
            archives.push(to);
        }
        fs::write(
            release.join("genie_python_3").join("ipython_config.py"),
            "c = get_config()\n",
        )?;
        Ok(archives)
    }

    fn remove_release(&self, n: usize) -> Result<()> {
        fs::remove_dir_all(self.share.join(self.release_name(n)))?;
        self.publish(&[])
    }

    fn publish(&self, extra: &[&str]) -> Result<()> {
        run(Command::new(&self.updater)
            .env("IBEX_UPDATER_POLICY", &self.policy)
            .args(["--silent", "publish", "--share"])
            .arg(&self.share)
            .arg("--key")
            .arg(&self.key)
            .args(extra))
    }

    /// Times `phase` after a `sync`, with the bytes it read.
    fn measure(&self, phase: impl FnOnce() -> Result<()>) -> Result<(Duration, Io)> {
        settle()?;
        let before = Io::now()?;
        let start = Instant::now();
        phase()?;
        let time = start.elapsed();
        let after = Io::now()?;
        Ok((
            time,
            Io {
                read: after.read - before.read,
                ..Io::default()
            },
        ))
    }

    fn status_command(&self, share: &Path) -> Command {
        let mut command = Command::new(&self.updater);
        command
            .env("IBEX_UPDATER_POLICY", &self.policy)
            .env("IBEX_UPDATER_DATA_DIR", self.dir.join("data"))
            .arg("--source")
            .arg(share)
            .arg("--install-root")
            .arg(self.dir.join("root"))
            .args(["--silent", "status", "--server-version", "26.2.0.1"]);
        command
    }

    fn demo_status_command(&self) -> Command {
        let mut command = Command::new(&self.updater);
        command
            .env("IBEX_UPDATER_DATA_DIR", self.dir.join("demo-data"))
            .args([
                "--demo",
                "--silent",
                "status",
                "--server-version",
                "26.2.0.1",
            ]);
        command
    }

    /// A share of the first `releases` releases (hard links) with this share's index in format 1:
    /// every kit's manifest inside it, signed.
    fn legacy_share(&self, releases: usize) -> Result<PathBuf> {
        let legacy = self.dir.join(format!("legacy-{releases}")).join("Releases");
        let _ = fs::remove_dir_all(&legacy);
        let index: Value = serde_json::from_slice(&fs::read(self.share.join("index.json"))?)?;
        let mut kept = Vec::new();
        for release in index["releases"]
            .as_array()
            .context("releases")?
            .iter()
            .take(releases)
        {
            let name = release["name"].as_str().context("a release name")?;
            link_tree(&self.share.join(name), &legacy.join(name))?;
            let mut kits = Vec::new();
            for kit in release["kits"].as_array().context("kits")? {
                let listed: ManifestRef = serde_json::from_value(kit["manifest"].clone())?;
                let files = manifest::decode(&fs::read(self.share.join(&listed.path))?, &listed)
                    .map_err(anyhow::Error::msg)?;
                kits.push(json!({
                    "component": kit["component"], "archive": kit["archive"]["path"],
                    "size": kit["archive"]["size"], "sha256": kit["archive"]["sha256"],
                    "version": kit["version"], "files": files,
                }));
            }
            kept.push(json!({"name": name, "kits": kits}));
        }
        // A source of its own: the serials of one source say nothing of another's.
        let legacy_index = json!({
            "format": 1, "serial": 1, "source": "bench-format-1", "published": index["published"],
            "expires": index["expires"], "releases": kept, "updater": [],
        });
        let text = serde_json::to_string_pretty(&legacy_index)?;
        let signature =
            ibex_updater_core::index::signature::sign(text.as_bytes(), &self.key, "format 1")?;
        fs::write(legacy.join("index.json"), &text)?;
        fs::write(legacy.join("index.json.minisig"), signature)?;
        println!(
            "format 1 share of {releases} releases: index.json {:.0} MB",
            text.len() as f64 / 1e6
        );
        Ok(legacy)
    }

    /// Installs the GUI of `release` into a fresh root, and sums the signed metadata its log
    /// says it read.
    fn install_metadata_bytes(&self, release: &str) -> Result<u64> {
        let root = self.dir.join("install-root");
        let _ = fs::remove_dir_all(&root);
        let out = Command::new(&self.updater)
            .env("IBEX_UPDATER_POLICY", &self.policy)
            .env("IBEX_UPDATER_DATA_DIR", self.dir.join("data"))
            .env("IBEX_UPDATER_LOG", "ibex_updater_core=debug")
            .arg("--source")
            .arg(&self.share)
            .arg("--install-root")
            .arg(&root)
            .args([
                "--silent",
                "install",
                "--component",
                "ibex-gui",
                "--version",
                release,
            ])
            .output()?;
        let log = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            bail!("the install failed: {log}");
        }
        let read = log
            .lines()
            .filter_map(|l| {
                l.strip_suffix(" bytes of signed metadata")?
                    .rsplit_once(": read ")
            })
            .filter_map(|(_, n)| n.parse::<u64>().ok())
            .sum();
        let _ = fs::remove_dir_all(&root);
        Ok(read)
    }
}

/// Whether the share already has an index: releases added after it are new files.
fn release_is_new(share: &Path) -> bool {
    share.join("index.json").is_file()
}

/// Copies `command` (a `Command` runs once).
fn rebuild(command: &Command) -> Command {
    let mut copy = Command::new(command.get_program());
    copy.args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => copy.env(key, value),
            None => copy.env_remove(key),
        };
    }
    copy
}

/// The peak memory (KiB) of one run of `command`, as Python's `getrusage` of its child gives it.
fn peak_memory_kib(command: &Command) -> Result<u64> {
    let mut python = Command::new("python3");
    python.args([
        "-c",
        "import resource, subprocess, sys\n\
         subprocess.run(sys.argv[1:], capture_output=True, check=True)\n\
         print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
    ]);
    let copy = rebuild(command);
    python.arg(copy.get_program()).args(copy.get_args());
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            python.env(key, value);
        }
    }
    let out = python
        .output()
        .context("python3 measures the peak memory")?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

/// A tree of `files` small files under `under`, like a kit's, with its program; `variant` makes
/// every file differ from the other variants'.
fn generate(tree: &Path, under: &str, files: usize, variant: usize, program: &str) -> Result<()> {
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64 ^ (variant as u64 + 1);
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for i in 0..files {
        let dir = tree.join(format!("{under}/pkg_{:03}/mod_{:02}", i % 800, i % 13));
        fs::create_dir_all(&dir)?;
        let size = 100 + next() % 400;
        let mut content = format!("# variant {variant}, file {i}\n").into_bytes();
        while (content.len() as u64) < size {
            content
                .extend_from_slice(format!("x_{} = {}\n", next() % 1000, next() % 97).as_bytes());
        }
        fs::File::create(dir.join(format!("file_{i:05}.py")))?.write_all(&content)?;
    }
    fs::write(tree.join(program), format!("program, variant {variant}"))?;
    Ok(())
}

fn archive(seven_zip: &str, tree: &Path, archive: &Path) -> Result<()> {
    fs::create_dir_all(archive.parent().context("an archive has a folder")?)?;
    let _ = fs::remove_file(archive);
    run(Command::new(seven_zip)
        .args(["a", "-bd", "-y", "-mx1", "-mf=off", "-r"])
        .arg(archive)
        .arg(".")
        .current_dir(tree))
}

/// Hard links of every file of `from` under `to`.
fn link_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            link_tree(&entry.path(), &target)?;
        } else {
            fs::create_dir_all(to)?;
            fs::hard_link(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Bytes of every archive on the share.
fn archive_bytes(share: &Path) -> Result<u64> {
    let mut total = 0;
    for release in fs::read_dir(share)? {
        let release = release?.path();
        for archive in ["Client/zips/Client.7z", "genie_python_3/zips/Python.7z"] {
            if let Ok(meta) = fs::metadata(release.join(archive)) {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

fn dir_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}
