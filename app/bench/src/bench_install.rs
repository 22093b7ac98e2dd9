//! Install benchmark (not a test): installs a client-sized kit from a share on local disk with
//! `ibex-updater`, and in the same run times what today's install scripts do: delete the folder,
//! `7z x` the archive, copy the share's tree over it. Prints both times and the ratio.
//!
//! `cargo run --release --bin bench-install -- [--files 20000] [--megabytes 600] [--rounds 3]`

#[path = "bench_support.rs"]
mod bench_support;

use bench_support::{median, run, settle};

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use clap::Parser;

/// Times the updater's install against the script way, interleaved.
#[derive(Debug, Parser)]
struct Options {
    /// Files in the generated client.
    #[arg(long, default_value_t = 20_000)]
    files: usize,
    /// Its total size.
    #[arg(long, default_value_t = 600)]
    megabytes: u64,
    /// Rounds of each contender.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Where the share, the install roots and the baseline's trees go.
    #[arg(long, default_value = "target/bench-install")]
    dir: PathBuf,
}

fn main() -> Result<()> {
    let options = parse_args()?;
    let seven_zip = ["7zz", "7z"]
        .into_iter()
        .find(|exe| {
            Command::new(exe)
                .arg("i")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .context("the baseline needs 7-Zip: apt-get install 7zip")?;
    let updater = bench_support::updater_binary()?;

    let share = prepare_share(&options, seven_zip)?;
    let archive = share.join("1.0.0/Client/zips/Client.7z");
    let tree = share.join("1.0.0/Client/Client");
    println!(
        "kit: {} files, {:.0} MB unpacked, archive {:.0} MB",
        options.files,
        options.megabytes,
        fs::metadata(&archive)?.len() as f64 / 1e6
    );

    // The generated share has no signed index: a policy that allows that, for this run only.
    let policy = options.dir.join("policy.toml");
    fs::write(&policy, "allow_unsigned = true\n")?;
    let steady = Updater {
        exe: &updater,
        share: &share,
        policy: &policy,
        root: options.dir.join("updater-root"),
        sync: true,
    };
    // Fresh installs (into an empty folder, so no superseded tree to delete, whose time varies
    // with the disk) with and without syncing the staged tree: what syncing costs.
    let fresh_synced = Updater {
        root: options.dir.join("fresh-synced"),
        ..steady.clone()
    };
    let fresh_unsynced = Updater {
        root: options.dir.join("fresh-unsynced"),
        sync: false,
        ..steady.clone()
    };
    let baseline_dir = options.dir.join("baseline/Client_E4");
    let _ = fs::remove_dir_all(options.dir.join("baseline"));
    // Steady state for the updater and the baseline: a client already installed (and, for the
    // updater, a previous version kept for rollback, which the timed install has to discard).
    let _ = fs::remove_dir_all(&steady.root);
    for version in ["1.0.0", "1.0.1"] {
        steady.install(version)?;
    }
    extract_with_7z(seven_zip, &archive, &baseline_dir)?;

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut synced = Vec::new();
    let mut unsynced = Vec::new();
    for round in 0..options.rounds {
        // Alternate between two releases so every timed install really replaces the client.
        let version = if round % 2 == 0 { "1.0.2" } else { "1.0.1" };
        settle()?;
        let start = Instant::now();
        steady.install(version)?;
        ours.push(start.elapsed());

        settle()?;
        let (total, steps) = baseline(seven_zip, &archive, &tree, &baseline_dir)?;
        theirs.push(total);

        // Which fresh install goes first alternates, so that neither always follows the other.
        let mut pair = [
            (&fresh_synced, &mut synced),
            (&fresh_unsynced, &mut unsynced),
        ];
        if round % 2 == 1 {
            pair.reverse();
        }
        for (updater, times) in pair {
            let _ = fs::remove_dir_all(&updater.root);
            settle()?;
            let start = Instant::now();
            updater.install(version)?;
            times.push(start.elapsed());
        }
        println!(
            "round {}: updater {:.2}s; baseline {:.2}s (delete {:.2}s, 7z x {:.2}s, copy {:.2}s); fresh install {:.2}s, without syncing {:.2}s",
            round + 1,
            ours[round].as_secs_f64(),
            total.as_secs_f64(),
            steps[0].as_secs_f64(),
            steps[1].as_secs_f64(),
            steps[2].as_secs_f64(),
            synced[round].as_secs_f64(),
            unsynced[round].as_secs_f64(),
        );
    }
    let (ours, theirs) = (median(&mut ours), median(&mut theirs));
    let (synced, unsynced) = (median(&mut synced), median(&mut unsynced));
    println!(
        "median of {} rounds: updater {:.2}s, baseline {:.2}s, ratio {:.2}",
        options.rounds,
        ours.as_secs_f64(),
        theirs.as_secs_f64(),
        ours.as_secs_f64() / theirs.as_secs_f64(),
    );
    println!(
        "fresh install: {:.2}s, without syncing the staged tree {:.2}s: syncing costs {:+.1}%",
        synced.as_secs_f64(),
        unsynced.as_secs_f64(),
        (synced.as_secs_f64() / unsynced.as_secs_f64() - 1.0) * 100.0
    );
    println!(
        "machine load (1, 5, 15 min): {}",
        bench_support::load_average()
    );
    Ok(())
}

/// The updater installing into one install root.
#[derive(Clone)]
struct Updater<'a> {
    exe: &'a Path,
    share: &'a Path,
    policy: &'a Path,
    root: PathBuf,
    /// Whether it syncs the staged tree before the swap (as shipped), or not (to measure that).
    sync: bool,
}

impl Updater<'_> {
    fn install(&self, version: &str) -> Result<()> {
        let mut command = Command::new(self.exe);
        if !self.sync {
            command.env("IBEX_UPDATER_BENCH_NO_SYNC", "1");
        }
        run(command
            .env("IBEX_UPDATER_POLICY", self.policy)
            .arg("--source")
            .arg(self.share)
            .arg("--install-root")
            .arg(&self.root)
            .args([
                "--silent",
                "install",
                "--force",
                "--component",
                "ibex-gui",
                "--version",
                version,
            ]))
    }
}

/// Today's scripts: delete the folder, `7z x -aoa`, then copy the share's tree over it.
fn baseline(
    seven_zip: &str,
    archive: &Path,
    tree: &Path,
    dest: &Path,
) -> Result<(Duration, [Duration; 3])> {
    let start = Instant::now();
    fs::remove_dir_all(dest)?;
    let deleted = start.elapsed();
    extract_with_7z(seven_zip, archive, dest)?;
    let extracted = start.elapsed();
    run(Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", tree.display()))
        .arg(dest))?;
    let copied = start.elapsed();
    Ok((copied, [deleted, extracted - deleted, copied - extracted]))
}

/// `7z x -aoa -o<dest> <archive>`, as today's install scripts unpack a kit.
fn extract_with_7z(seven_zip: &str, archive: &Path, dest: &Path) -> Result<()> {
    run(Command::new(seven_zip)
        .args(["x", "-bd", "-y", "-aoa"])
        .arg(format!("-o{}", dest.display()))
        .arg(archive))
}

/// A share with releases 1.0.0, 1.0.1 and 1.0.2 of one client-sized kit (the archive is shared
/// through hard links; only VERSION.txt differs). Made once and reused.
fn prepare_share(options: &Options, seven_zip: &str) -> Result<PathBuf> {
    let share = options
        .dir
        .join(format!("share-v2-{}-{}", options.files, options.megabytes));
    if share.join("1.0.2/Client/COPY_COMPLETE.txt").is_file() {
        return Ok(share);
    }
    let _ = fs::remove_dir_all(&share);
    let kit = share.join("1.0.0/Client");
    let tree = kit.join("Client");
    println!(
        "generating a {}-file, {} MB client tree in {} ...",
        options.files,
        options.megabytes,
        tree.display()
    );
    generate_tree(&tree, options.files, options.megabytes * 1_000_000)?;
    // The program that makes the kit a working IBEX GUI.
    fs::write(tree.join("ibex-client.exe"), "ibex client")?;
    let archive = kit.join("zips/Client.7z");
    fs::create_dir_all(archive.parent().context("archive has a folder")?)?;
    run(Command::new(seven_zip)
        .args(["a", "-bd", "-y", "-mx1", "-mf=off", "-r"])
        .arg(&archive)
        .arg(".")
        .current_dir(&tree))?;
    for version in ["1.0.0", "1.0.1", "1.0.2"] {
        let kit = share.join(version).join("Client");
        fs::create_dir_all(kit.join("Client"))?;
        fs::create_dir_all(kit.join("zips"))?;
        if version != "1.0.0" {
            fs::hard_link(&archive, kit.join("zips/Client.7z"))?;
        }
        fs::write(kit.join("Client/VERSION.txt"), format!("{version}\r\n"))?;
        fs::write(kit.join("Client/BUILD_NUMBER.txt"), "1\r\n")?;
        fs::write(kit.join("COPY_COMPLETE.txt"), "")?;
    }
    Ok(share)
}

/// A tree shaped like the client: many small files in nested plugin folders and a few large
/// ones; half the bytes compress like class files and text, half are already compressed (jars).
fn generate_tree(tree: &Path, files: usize, bytes: u64) -> Result<()> {
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let large = (files / 1000).max(1);
    let large_bytes = bytes * 3 / 10;
    let small_each = (bytes - large_bytes) / (files - large) as u64;
    let words = [
        "plugin", "eclipse", "ibex", "block", "config", "synoptic", "epics", "device", "<xml>",
        "</xml>",
    ];
    for i in 0..files {
        let dir = tree.join(format!("plugins/bundle_{:03}/lib_{:02}", i % 400, i % 7));
        fs::create_dir_all(&dir)?;
        let size = if i < large {
            large_bytes / large as u64
        } else {
            small_each / 2 + next() % small_each
        };
        let mut content = Vec::with_capacity(size as usize);
        if i % 2 == 0 {
            while (content.len() as u64) < size {
                content.extend_from_slice(&next().to_le_bytes());
            }
        } else {
            while (content.len() as u64) < size {
                content.extend_from_slice(words[(next() % words.len() as u64) as usize].as_bytes());
                content.push(b' ');
            }
        }
        content.truncate(size as usize);
        fs::File::create(dir.join(format!("file_{i:05}.bin")))?.write_all(&content)?;
    }
    Ok(())
}

fn parse_args() -> Result<Options> {
    let mut options = Options::parse();
    ensure!(
        options.files > 10 && options.rounds > 0,
        "--files must be over 10 and --rounds at least 1"
    );
    // 7-Zip runs inside the tree it archives, so every path handed to it must be absolute.
    options.dir = std::path::absolute(&options.dir)?;
    Ok(options)
}
