//! Install benchmark (not a test): installs a client-sized kit from a share on local disk with
//! `ibex-updater`, and in the same run times what today's install scripts do: delete the folder,
//! `7z x` the archive, copy the share's tree over it. Prints both times and the ratio.
//!
//! `cargo run --release --bin bench-install -- [--files 20000] [--megabytes 600] [--rounds 3]`

#[path = "bench_share.rs"]
mod bench_share;
#[path = "bench_support.rs"]
mod bench_support;

use bench_share::{PATCH, STEADY, Updater, remove_if_there};
use bench_support::{Io, run, settle};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
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
    /// Rounds of each contender (a multiple of three gives each fresh contender each place in
    /// the order equally often).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Where the share, the install roots and the baseline's trees go.
    #[arg(long, default_value = "target/bench-install")]
    dir: PathBuf,
}

fn main() -> Result<()> {
    let options = parse_args()?;
    let seven_zip = bench_share::seven_zip()?;
    let updater = bench_support::updater_binary()?;

    let share = bench_share::prepare(
        &options.dir,
        options.files,
        options.megabytes,
        seven_zip,
        &updater,
    )?;
    let changed_bytes = share.changed_bytes;
    println!(
        "kit: {} files, {:.0} MB unpacked, archive {:.0} MB; patch release {PATCH}: {:.1} MB of files changed, archive {:.0} MB",
        options.files,
        options.megabytes,
        fs::metadata(share.archive(STEADY[0]))?.len() as f64 / 1e6,
        changed_bytes as f64 / 1e6,
        fs::metadata(share.archive(PATCH))?.len() as f64 / 1e6,
    );

    let steady = Updater {
        exe: &updater,
        share: &share.root,
        policy: &share.policy,
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
    // The same releases on the share as it is: no signed index, a policy that allows that.
    let (unsigned_share, unsigned_policy) = bench_share::unsigned_copy(&options.dir, &share.root)?;
    let unsigned = Updater {
        share: &unsigned_share,
        policy: &unsigned_policy,
        data: options.dir.join("updater-data-unsigned"),
        root: options.dir.join("updater-root-unsigned"),
        ..steady.clone()
    };
    let fresh_unsigned = Updater {
        root: options.dir.join("fresh-unsigned"),
        ..unsigned.clone()
    };
    let patched_unsigned = Updater {
        root: options.dir.join("patch-root-unsigned"),
        ..unsigned.clone()
    };
    let baseline_dir = options.dir.join("baseline/Client_E4");
    let bare_dir = options.dir.join("bare-7z");
    let warm_up_dir = options.dir.join("warm-up");
    let _ = fs::remove_dir_all(options.dir.join("baseline"));
    // Steady state: a client already installed and another kept for rollback, neither the one
    // the round installs. The patch starts from the release it patches.
    let _ = fs::remove_dir_all(&steady.root);
    steady.install(STEADY[1])?;
    steady.install(STEADY[2])?;
    let _ = fs::remove_dir_all(&patched.root);
    patched.install(STEADY[0])?;
    let _ = fs::remove_dir_all(&unsigned.root);
    unsigned.install(STEADY[1])?;
    unsigned.install(STEADY[2])?;
    let _ = fs::remove_dir_all(&patched_unsigned.root);
    patched_unsigned.install(STEADY[0])?;
    extract_with_7z(seven_zip, &share.archive(STEADY[0]), &baseline_dir)?;
    let roots = [
        &steady,
        &fresh,
        &fresh_unsynced,
        &patched,
        &unsigned,
        &fresh_unsigned,
        &patched_unsigned,
    ]
    .map(|u| u.root.clone());

    let mut results: Vec<(&str, Vec<Sample>)> = [
        "steady: updater",
        "steady: script way (rm, 7z x, cp)",
        "fresh: updater",
        "fresh: updater, staged tree not synced",
        "fresh: bare 7z x",
        "patch: updater",
        "patch: script way (rm, 7z x, cp)",
        "steady: updater, unsigned",
        "fresh: updater, unsigned",
        "patch: updater, unsigned",
        "switch back: updater",
        "switch back: updater, unsigned",
        "--force, intact: updater",
        "--force, intact: updater, unsigned",
    ]
    .into_iter()
    .map(|name| (name, Vec::new()))
    .collect();
    for round in 0..options.rounds {
        // A release neither installed nor kept, every file of it new.
        let version = STEADY[round % STEADY.len()];
        let (archive, tree) = (share.archive(version), share.tree(version));
        let (patch_archive, patch_tree) = (share.archive(PATCH), share.tree(PATCH));
        // (which result, what is timed)
        type Step<'a> = Box<dyn Fn() -> Result<()> + 'a>;
        let mut fresh_phases: Vec<(usize, Step<'_>)> = vec![
            (2, Box::new(|| fresh.install(version))),
            (3, Box::new(|| fresh_unsynced.install(version))),
            (8, Box::new(|| fresh_unsigned.install(version))),
            (
                4,
                Box::new(|| extract_with_7z(seven_zip, &archive, &bare_dir)),
            ),
        ];
        let mut other_phases: Vec<(usize, Step<'_>)> = vec![
            (0, Box::new(|| steady.install(version))),
            (
                1,
                Box::new(|| baseline(seven_zip, &archive, &tree, &baseline_dir)),
            ),
            (5, Box::new(|| patched.install(PATCH))),
            (7, Box::new(|| unsigned.install(version))),
            (9, Box::new(|| patched_unsigned.install(PATCH))),
            (
                6,
                Box::new(|| baseline(seven_zip, &patch_archive, &patch_tree, &baseline_dir)),
            ),
        ];
        // Fresh installs go first, a minute after the last delete, and after an untimed unpack
        // of the same archive: ext4 does not reuse an inode freed in the last 60 s (300 s while
        // its table block is unwritten) and reads the inode table to skip each one, and the
        // first 20,000 files written after deleting 20,000 took from 2 s to 12 s in the kernel,
        // whoever wrote them (`perf`: `recently_deleted`, `find_inode_bit`).
        for dir in [
            &fresh.root,
            &fresh_unsynced.root,
            &fresh_unsigned.root,
            &bare_dir,
            &warm_up_dir,
        ] {
            remove_if_there(dir)?;
        }
        deletes_done_and_synced(&roots)?;
        std::thread::sleep(QUIET_AFTER_DELETES);
        extract_with_7z(seven_zip, &archive, &warm_up_dir)?;
        // Contenders take turns in a different order each round, so none always follows
        // another. The fresh ones rotate, so that over a multiple of four rounds each is first
        // as often as the others: the first to write after the pause still took about a second
        // longer here, whoever it was.
        let turns = fresh_phases.len();
        fresh_phases.rotate_left(round % turns);
        if round % 2 == 1 {
            other_phases.reverse();
        }
        for group in [fresh_phases, other_phases] {
            for (index, phase) in &group {
                let sample = measure(&roots, phase.as_ref())?;
                results[*index].1.push(sample);
            }
        }
        // Back to the base release for the next round's patch, a switch to the tree kept for
        // rollback, then a reinstall over it, intact; the patched tree (now the one kept for
        // rollback) is deleted, untimed: the next patch must be an install, not a switch.
        let later: [(usize, Step<'_>); 4] = [
            (10, Box::new(|| patched.install(STEADY[0]))),
            (11, Box::new(|| patched_unsigned.install(STEADY[0]))),
            (
                12,
                Box::new(|| patched.install_with(STEADY[0], &["--force"])),
            ),
            (
                13,
                Box::new(|| patched_unsigned.install_with(STEADY[0], &["--force"])),
            ),
        ];
        for (index, phase) in &later {
            let sample = measure(&roots, phase.as_ref())?;
            results[*index].1.push(sample);
        }
        remove_if_there(&patched.root.join(".ibex-updater/previous"))?;
        remove_if_there(&patched_unsigned.root.join(".ibex-updater/previous"))?;
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
        "{:<42} {:>8} {:>12} {:>12} {:>12}",
        "", "time", "to the disk", "by writes", "read (all)"
    );
    let medians: Vec<Sample> = results
        .iter_mut()
        .map(|(name, samples)| {
            let median = Sample::median(samples);
            println!(
                "{name:<42} {:>7.2}s {:>9.0} MB {:>9.0} MB {:>9.0} MB",
                median.time.as_secs_f64(),
                median.io.written as f64 / 1e6,
                median.io.written_by_calls as f64 / 1e6,
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
    let kit_bytes = options.megabytes * 1_000_000;
    println!(
        "unsigned: fresh install writes {:.2}x the kit ({:.0} MB; goal <= 1.1x); patch {:.2}x the script way, {:.2}x the changed bytes through write calls (goal <= 1.5x); switch back {:.2} s writing {:.2}% of the kit (goal < 1 s, < 1 %); --force over an intact client writes {:.2}% (goal < 1 %)",
        medians[8].io.written as f64 / kit_bytes as f64,
        medians[8].io.written as f64 / 1e6,
        ratio(9, 6),
        medians[9].io.written_by_calls as f64 / changed_bytes as f64,
        medians[11].time.as_secs_f64(),
        medians[11].io.written as f64 * 100.0 / kit_bytes as f64,
        medians[13].io.written as f64 * 100.0 / kit_bytes as f64,
    );
    println!(
        "signed: switch back {:.2} s writing {:.2}% of the kit; --force over an intact client writes {:.2}%",
        medians[10].time.as_secs_f64(),
        medians[10].io.written as f64 * 100.0 / kit_bytes as f64,
        medians[12].io.written as f64 * 100.0 / kit_bytes as f64,
    );
    let patch = medians[5].io;
    println!(
        "patch ({:.0} MB of files changed): {:.2}x the script way; writes {:.0} MB to the disk, {:.1}x the changed bytes (goal <= 1.2x)",
        changed_bytes as f64 / 1e6,
        ratio(5, 6),
        patch.written as f64 / 1e6,
        patch.written as f64 / changed_bytes as f64,
    );
    // The difference is the filesystem's: the new tree's folders and names, and whole pages.
    println!(
        "  of which {:.0} MB through write calls ({:.2}x the changed bytes: the changed files and the tree's record)",
        patch.written_by_calls as f64 / 1e6,
        patch.written_by_calls as f64 / changed_bytes as f64,
    );
    Ok(())
}

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

/// Times `phase` after the previous phases' background deletes have finished and the disk has
/// been synced, so that no phase pays for another's work.
fn measure(roots: &[PathBuf], phase: &dyn Fn() -> Result<()>) -> Result<Sample> {
    deletes_done_and_synced(roots)?;
    let before = Io::now()?;
    let start = Instant::now();
    phase()?;
    let time = start.elapsed();
    let after = Io::now()?;
    Ok(Sample {
        time,
        io: Io {
            written: after.written - before.written,
            written_by_calls: after.written_by_calls - before.written_by_calls,
            read: after.read - before.read,
        },
    })
}

/// Waits for the updater's background deletes in every install root, then runs `sync`.
fn deletes_done_and_synced(roots: &[PathBuf]) -> Result<()> {
    for root in roots {
        wait_for_empty_trash(root)?;
    }
    settle()
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

/// How long the fresh installs wait after the last delete (see the round loop).
const QUIET_AFTER_DELETES: Duration = Duration::from_secs(61);

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
