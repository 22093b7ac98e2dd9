//! Install benchmark (not a test): installs a client-sized kit from a share on local disk with
//! `ibex-updater`, and in the same run times what today's install scripts do: delete the folder,
//! `7z x` the archive, copy the share's tree over it. Prints both times and the ratio.
//!
//! `cargo run --release --bin bench-install -- [--files 20000] [--megabytes 600] [--rounds 3]`

#[path = "bench_support.rs"]
mod bench_support;

use bench_support::{run, settle};

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

    let (share, changed_bytes) = prepare_share(&options, seven_zip)?;
    let archive = share.join("1.0.0/Client/zips/Client.7z");
    let tree = share.join("1.0.0/Client/Client");
    let patch_archive = share.join(format!("{PATCH}/Client/zips/Client.7z"));
    let patch_tree = share.join(format!("{PATCH}/Client/Client"));
    println!(
        "kit: {} files, {:.0} MB unpacked, archive {:.0} MB; patch release {PATCH}: {:.1} MB of files changed, archive {:.0} MB",
        options.files,
        options.megabytes,
        fs::metadata(&archive)?.len() as f64 / 1e6,
        changed_bytes as f64 / 1e6,
        fs::metadata(&patch_archive)?.len() as f64 / 1e6,
    );

    // The generated share has no signed index: a policy that allows that, for this run only.
    let policy = options.dir.join("policy.toml");
    fs::write(&policy, "allow_unsigned = true\n")?;
    let steady = Updater {
        exe: &updater,
        share: &share,
        policy: &policy,
        data: options.dir.join("updater-data"),
        root: options.dir.join("updater-root"),
        sync: true,
    };
    let fresh = Updater {
        root: options.dir.join("fresh-synced"),
        ..steady.clone()
    };
    let fresh_unsynced = Updater {
        root: options.dir.join("fresh-unsynced"),
        sync: false,
        ..steady.clone()
    };
    let patched = Updater {
        root: options.dir.join("patch-root"),
        ..steady.clone()
    };
    let baseline_dir = options.dir.join("baseline/Client_E4");
    let bare_dir = options.dir.join("bare-7z");
    let _ = fs::remove_dir_all(options.dir.join("baseline"));
    // Steady state for the updater and the baseline: a client already installed (and, for the
    // updater, a previous version kept for rollback).
    for updater in [&steady, &patched] {
        let _ = fs::remove_dir_all(&updater.root);
        for version in ["1.0.0", "1.0.1"] {
            updater.install(version)?;
        }
    }
    extract_with_7z(seven_zip, &archive, &baseline_dir)?;
    let roots = [&steady, &fresh, &fresh_unsynced, &patched].map(|u| u.root.clone());

    let mut results: Vec<(&str, Vec<Sample>)> = [
        "steady: updater",
        "steady: script way (rm, 7z x, cp)",
        "fresh: updater",
        "fresh: updater, staged tree not synced",
        "fresh: bare 7z x",
        "patch: updater",
        "patch: script way (rm, 7z x, cp)",
    ]
    .into_iter()
    .map(|name| (name, Vec::new()))
    .collect();
    for round in 0..options.rounds {
        // Alternate between two releases so every timed install really replaces the client.
        let version = if round % 2 == 0 { "1.0.2" } else { "1.0.1" };
        // (which result, what is made ready untimed, what is timed)
        type Step<'a> = Box<dyn Fn() -> Result<()> + 'a>;
        let nothing = || -> Step<'_> { Box::new(|| Ok(())) };
        let emptied = |dir: &Path| -> Step<'_> {
            let dir = dir.to_path_buf();
            Box::new(move || remove_if_there(&dir))
        };
        let mut phases: Vec<(usize, Step<'_>, Step<'_>)> = vec![
            (0, nothing(), Box::new(|| steady.install(version))),
            (
                1,
                nothing(),
                Box::new(|| baseline(seven_zip, &archive, &tree, &baseline_dir)),
            ),
            (2, emptied(&fresh.root), Box::new(|| fresh.install(version))),
            (
                3,
                emptied(&fresh_unsynced.root),
                Box::new(|| fresh_unsynced.install(version)),
            ),
            (
                4,
                emptied(&bare_dir),
                Box::new(|| extract_with_7z(seven_zip, &archive, &bare_dir)),
            ),
            (5, nothing(), Box::new(|| patched.install(PATCH))),
            (
                6,
                nothing(),
                Box::new(|| baseline(seven_zip, &patch_archive, &patch_tree, &baseline_dir)),
            ),
        ];
        // Contenders take turns in a different order each round, so none always follows another.
        if round % 2 == 1 {
            phases.reverse();
        }
        for (index, prepare, phase) in &phases {
            prepare()?;
            let sample = measure(&roots, phase.as_ref())?;
            results[*index].1.push(sample);
        }
        // Back to the base release for the next round's patch, untimed.
        patched.install(version)?;
        let line: Vec<String> = results
            .iter()
            .map(|(name, samples)| format!("{name} {:.2}s", samples[round].time.as_secs_f64()))
            .collect();
        println!("round {}: {}", round + 1, line.join("; "));
    }

    println!(
        "\nmedian of {} rounds (load {}):",
        options.rounds,
        bench_support::load_average()
    );
    println!(
        "{:<42} {:>8} {:>12} {:>12}",
        "", "time", "written", "read (all)"
    );
    let medians: Vec<Sample> = results
        .iter_mut()
        .map(|(name, samples)| {
            let median = Sample::median(samples);
            println!(
                "{name:<42} {:>7.2}s {:>9.0} MB {:>9.0} MB",
                median.time.as_secs_f64(),
                median.io.written as f64 / 1e6,
                median.io.read as f64 / 1e6,
            );
            median
        })
        .collect();
    let ratio = |a: usize, b: usize| medians[a].time.as_secs_f64() / medians[b].time.as_secs_f64();
    println!(
        "\nsteady state: {:.2}x the script way (goal <= 0.4x)",
        ratio(0, 1)
    );
    println!(
        "fresh install: {:.2}x a bare 7z x (goal <= 0.9x)",
        ratio(2, 4)
    );
    println!(
        "syncing the staged tree costs {:+.1}% of a fresh install",
        (ratio(2, 3) - 1.0) * 100.0
    );
    println!(
        "patch ({:.0} MB of files changed): {:.2}x the script way; writes {:.0} MB, {:.1}x the changed bytes (goal <= 1.2x)",
        changed_bytes as f64 / 1e6,
        ratio(5, 6),
        medians[5].io.written as f64 / 1e6,
        medians[5].io.written as f64 / changed_bytes as f64,
    );
    Ok(())
}

/// The release a patch install goes to: the base tree with about 5 % of its files changed.
const PATCH: &str = "1.1.0";

/// One timed phase: its wall time and the bytes it (and every process it waited for) read and
/// wrote, from this process's `/proc/self/io`.
#[derive(Debug, Clone, Copy)]
struct Sample {
    time: Duration,
    io: Io,
}

impl Sample {
    /// The sample with the median time.
    fn median(samples: &mut [Sample]) -> Sample {
        samples.sort_by_key(|s| s.time);
        samples[samples.len() / 2]
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Io {
    /// Bytes sent to the disk (`write_bytes`: pages dirtied, whenever they are written back).
    written: u64,
    /// Bytes read through system calls (`rchar`), from the disk or its cache.
    read: u64,
}

impl Io {
    /// This process's counters, which include every child it has waited for.
    fn now() -> Result<Io> {
        let text = fs::read_to_string("/proc/self/io").context("read /proc/self/io")?;
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
                .with_context(|| format!("no {name} in /proc/self/io"))
        };
        Ok(Io {
            written: field("write_bytes:")?,
            read: field("rchar:")?,
        })
    }
}

/// Times `phase` after the previous phases' background deletes have finished and the disk has
/// been synced, so that no phase pays for another's work.
fn measure(roots: &[PathBuf], phase: &dyn Fn() -> Result<()>) -> Result<Sample> {
    for root in roots {
        wait_for_empty_trash(root)?;
    }
    settle()?;
    let before = Io::now()?;
    let start = Instant::now();
    phase()?;
    let time = start.elapsed();
    let after = Io::now()?;
    Ok(Sample {
        time,
        io: Io {
            written: after.written - before.written,
            read: after.read - before.read,
        },
    })
}

/// The updater deletes superseded trees in a background process after an install; a timed
/// phase starts once that is done.
fn wait_for_empty_trash(root: &Path) -> Result<()> {
    let trash = root.join(".ibex-updater/trash");
    let deadline = Instant::now() + Duration::from_secs(600);
    while fs::read_dir(&trash).is_ok_and(|mut e| e.next().is_some()) {
        ensure!(
            Instant::now() < deadline,
            "{} was not emptied",
            trash.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The updater installing into one install root.
#[derive(Clone)]
struct Updater<'a> {
    exe: &'a Path,
    share: &'a Path,
    policy: &'a Path,
    /// Its user data folder, apart from this machine's.
    data: PathBuf,
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
            .env("IBEX_UPDATER_DATA_DIR", &self.data)
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

fn remove_if_there(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Today's scripts: delete the folder, `7z x -aoa`, then copy the share's tree over it.
fn baseline(seven_zip: &str, archive: &Path, tree: &Path, dest: &Path) -> Result<()> {
    remove_if_there(dest)?;
    extract_with_7z(seven_zip, archive, dest)?;
    run(Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", tree.display()))
        .arg(dest))
}

/// `7z x -aoa -o<dest> <archive>`, as today's install scripts unpack a kit.
fn extract_with_7z(seven_zip: &str, archive: &Path, dest: &Path) -> Result<()> {
    run(Command::new(seven_zip)
        .args(["x", "-bd", "-y", "-aoa"])
        .arg(format!("-o{}", dest.display()))
        .arg(archive))
}

/// A share with releases 1.0.0, 1.0.1 and 1.0.2 of one client-sized kit (the archive is shared
/// through hard links; only VERSION.txt differs), and the patch release [`PATCH`], whose tree
/// has every 20th file changed. Made once and reused. Returns the share and the patch's changed
/// bytes.
fn prepare_share(options: &Options, seven_zip: &str) -> Result<(PathBuf, u64)> {
    let share = options
        .dir
        .join(format!("share-v3-{}-{}", options.files, options.megabytes));
    let changed_file = share.join("changed-bytes.txt");
    if let Ok(text) = fs::read_to_string(&changed_file) {
        return Ok((share, text.trim().parse()?));
    }
    let _ = fs::remove_dir_all(&share);
    let tree = share.join("1.0.0/Client/Client");
    println!(
        "generating a {}-file, {} MB client tree in {} ...",
        options.files,
        options.megabytes,
        tree.display()
    );
    generate_tree(&tree, options.files, options.megabytes * 1_000_000)?;
    // The program that makes the kit a working IBEX GUI.
    fs::write(tree.join("ibex-client.exe"), "ibex client")?;
    let archive = archive_tree(seven_zip, &tree, &share.join("1.0.0"))?;
    let patch_tree = share.join(PATCH).join("Client/Client");
    let changed = patch_of(&tree, &patch_tree)?;
    archive_tree(seven_zip, &patch_tree, &share.join(PATCH))?;
    for version in ["1.0.0", "1.0.1", "1.0.2", PATCH] {
        let kit = share.join(version).join("Client");
        fs::create_dir_all(kit.join("Client"))?;
        fs::create_dir_all(kit.join("zips"))?;
        if !kit.join("zips/Client.7z").exists() {
            fs::hard_link(&archive, kit.join("zips/Client.7z"))?;
        }
        fs::write(kit.join("Client/VERSION.txt"), format!("{version}\r\n"))?;
        fs::write(kit.join("Client/BUILD_NUMBER.txt"), "1\r\n")?;
        fs::write(kit.join("COPY_COMPLETE.txt"), "")?;
    }
    // Written last: its presence says the share is complete.
    fs::write(&changed_file, changed.to_string())?;
    Ok((share, changed))
}

/// `<release>/Client/zips/Client.7z` of `tree`, made as the release build does.
fn archive_tree(seven_zip: &str, tree: &Path, release: &Path) -> Result<PathBuf> {
    let archive = release.join("Client/zips/Client.7z");
    fs::create_dir_all(archive.parent().context("archive has a folder")?)?;
    run(Command::new(seven_zip)
        .args(["a", "-bd", "-y", "-mx1", "-mf=off", "-r"])
        .arg(&archive)
        .arg(".")
        .current_dir(tree))?;
    Ok(archive)
}

/// `patch` as a copy of `base` (hard links) with about 5 % of its bytes changed: files are
/// rewritten (same size, new bytes) while that keeps the changed share at or under 5 %.
/// Returns the bytes of the files changed.
fn patch_of(base: &Path, patch: &Path) -> Result<u64> {
    let mut files = Vec::new();
    let mut stack = vec![base.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let (mut changed, mut seen) = (0, 0);
    for file in &files {
        let to = patch.join(file.strip_prefix(base)?);
        fs::create_dir_all(to.parent().context("a file has a folder")?)?;
        let size = fs::metadata(file)?.len();
        seen += size;
        if (changed + size) * 20 <= seen {
            let mut bytes = fs::read(file)?;
            for b in &mut bytes {
                *b = b.wrapping_add(1);
            }
            fs::write(&to, &bytes)?;
            changed += bytes.len() as u64;
        } else {
            fs::hard_link(file, &to)?;
        }
    }
    Ok(changed)
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
