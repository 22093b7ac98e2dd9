//! The client-sized release share the install benchmarks use, made once and kept under their
//! folder: a generated client tree, releases of it, and a signed index. (Included with
//! `#[path]`: it is not a binary itself.)
// Each benchmark uses a part of it.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::bench_support::run;

/// Releases whose every file differs from the others', as a new build's do: a steady-state
/// install cycles through them, so that the release it installs is never one still kept.
pub const STEADY: [&str; 3] = ["1.0.0", "1.0.1", "1.0.2"];
/// The release a patch install goes to: [`STEADY`]'s first with about 5 % of its bytes changed.
pub const PATCH: &str = "1.1.0";

/// The 7-Zip this machine has, which makes the share (and is `bench-install`'s baseline).
pub fn seven_zip() -> Result<&'static str> {
    ["7zz", "7z"]
        .into_iter()
        .find(|exe| {
            Command::new(exe)
                .arg("i")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .context("the benchmark needs 7-Zip: apt-get install 7zip")
}

/// The share, and the bytes of the files [`PATCH`] changed.
pub struct BenchShare {
    pub root: PathBuf,
    pub changed_bytes: u64,
    /// A policy that trusts the key the share's index is signed with.
    pub policy: PathBuf,
}

impl BenchShare {
    pub fn archive(&self, release: &str) -> PathBuf {
        self.root.join(release).join("Client/zips/Client.7z")
    }

    pub fn tree(&self, release: &str) -> PathBuf {
        self.root.join(release).join("Client/Client")
    }
}

/// The share for `files` files of `megabytes` in all under `dir`, made if it is not there yet,
/// and its index signed again (an index expires) with a key kept beside it.
pub fn prepare(
    dir: &Path,
    files: usize,
    megabytes: u64,
    seven_zip: &str,
    updater: &Path,
) -> Result<BenchShare> {
    let root = dir.join(format!("share-v5-{files}-{megabytes}"));
    let changed_file = root.join("changed-bytes.txt");
    let changed_bytes = match fs::read_to_string(&changed_file) {
        Ok(text) => text.trim().parse()?,
        Err(_) => {
            let changed = generate_share(&root, files, megabytes, seven_zip)?;
            // Written last: its presence says the share is complete.
            fs::write(&changed_file, changed.to_string())?;
            changed
        }
    };
    let policy = sign(dir, &root, updater)?;
    Ok(BenchShare {
        root,
        changed_bytes,
        policy,
    })
}

fn generate_share(root: &Path, files: usize, megabytes: u64, seven_zip: &str) -> Result<u64> {
    let _ = fs::remove_dir_all(root);
    let base = root.join(STEADY[0]).join("Client/Client");
    println!(
        "generating a {files}-file, {megabytes} MB client tree in {} ...",
        base.display()
    );
    generate_tree(&base, files, megabytes * 1_000_000)?;
    // The program that makes the kit a working IBEX GUI.
    fs::write(base.join("ibex-client.exe"), "ibex client")?;
    for (n, release) in STEADY.iter().enumerate().skip(1) {
        variant_of(&base, &root.join(release).join("Client/Client"), n as u8)?;
    }
    let changed = patch_of(&base, &root.join(PATCH).join("Client/Client"))?;
    for release in STEADY.iter().copied().chain([PATCH]) {
        println!("archiving {release} ...");
        let kit = root.join(release).join("Client");
        archive_tree(seven_zip, &kit.join("Client"), &root.join(release))?;
        fs::write(kit.join("Client/VERSION.txt"), format!("{release}\r\n"))?;
        fs::write(kit.join("Client/BUILD_NUMBER.txt"), "1\r\n")?;
        fs::write(kit.join("COPY_COMPLETE.txt"), "")?;
    }
    Ok(changed)
}

/// Signs the share's index with the benchmark's own key, and writes a policy that trusts it.
fn sign(dir: &Path, share: &Path, updater: &Path) -> Result<PathBuf> {
    let keys = dir.join("keys");
    if !keys.join("bench.key").is_file() {
        fs::create_dir_all(&keys)?;
        run(Command::new(updater)
            .args(["keygen", "--name", "bench", "--out-dir"])
            .arg(&keys))?;
    }
    run(Command::new(updater)
        .env("IBEX_UPDATER_POLICY", dir.join("no-policy.toml"))
        .args(["--silent", "publish", "--share"])
        .arg(share)
        .arg("--key")
        .arg(keys.join("bench.key")))?;
    let public = fs::read_to_string(keys.join("bench.pub"))?;
    let line = public.lines().last().context("an empty public key file")?;
    let policy = dir.join("policy.toml");
    fs::write(&policy, format!("trusted_keys = ['{line}']\n"))?;
    Ok(policy)
}

/// `<release>/Client/zips/Client.7z` of `tree`, made as the release build does.
pub fn archive_tree(seven_zip: &str, tree: &Path, release: &Path) -> Result<PathBuf> {
    let archive = release.join("Client/zips/Client.7z");
    fs::create_dir_all(archive.parent().context("archive has a folder")?)?;
    run(Command::new(seven_zip)
        .args(["a", "-bd", "-y", "-mx1", "-mf=off", "-r"])
        .arg(&archive)
        .arg(".")
        .current_dir(tree))?;
    Ok(archive)
}

/// `variant` as a copy of `base` with every byte of every file changed (added `n`).
fn variant_of(base: &Path, variant: &Path, n: u8) -> Result<()> {
    for file in files_of(base)? {
        let to = variant.join(file.strip_prefix(base)?);
        fs::create_dir_all(to.parent().context("a file has a folder")?)?;
        let mut bytes = fs::read(&file)?;
        for b in &mut bytes {
            *b = b.wrapping_add(n);
        }
        fs::write(&to, &bytes)?;
    }
    Ok(())
}

/// Every file under `dir`, sorted.
fn files_of(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
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
    Ok(files)
}

/// `patch` as a copy of `base` (hard links) with about 5 % of its bytes changed (same sizes, new
/// bytes), in the small files of a run of plugin folders from the middle of the tree on, as a
/// patch release changes a few of IBEX's own plugins and none of Eclipse's or the JRE's. Returns
/// the bytes of the files changed.
fn patch_of(base: &Path, patch: &Path) -> Result<u64> {
    let files = files_of(base)?;
    let mut total = 0;
    for file in &files {
        total += fs::metadata(file)?.len();
    }
    let first_changed = base.join("plugins/bundle_200");
    let mut changed = 0;
    for file in &files {
        let to = patch.join(file.strip_prefix(base)?);
        fs::create_dir_all(to.parent().context("a file has a folder")?)?;
        let size = fs::metadata(file)?.len();
        if *file >= first_changed && size < 1 << 20 && (changed + size) * 20 <= total {
            let mut bytes = fs::read(file)?;
            for b in &mut bytes {
                *b = b.wrapping_add(1);
            }
            fs::write(&to, &bytes)?;
            changed += size;
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

/// The updater installing into one install root.
#[derive(Clone)]
pub struct Updater<'a> {
    pub exe: &'a Path,
    pub share: &'a Path,
    pub policy: &'a Path,
    /// Its user data folder, apart from this machine's.
    pub data: PathBuf,
    pub root: PathBuf,
    /// Whether it syncs the staged tree before the swap (as shipped), or not (to measure that).
    pub sync: bool,
}

/// The share as it is (no signed index), beside `share`: its release folders as hard links, and
/// a policy that allows installing from it.
pub fn unsigned_copy(dir: &Path, share: &Path) -> Result<(PathBuf, PathBuf)> {
    let root = dir.join("share-unsigned");
    let _ = fs::remove_dir_all(&root);
    for release in STEADY.iter().copied().chain([PATCH]) {
        link_tree(&share.join(release), &root.join(release))?;
    }
    let policy = dir.join("policy-unsigned.toml");
    fs::write(&policy, "allow_unsigned = true\n")?;
    Ok((root, policy))
}

fn link_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            link_tree(&entry.path(), &target)?;
        } else {
            fs::hard_link(entry.path(), target)?;
        }
    }
    Ok(())
}

impl Updater<'_> {
    pub fn install(&self, version: &str) -> Result<()> {
        self.install_with(version, &[])
    }

    /// `install` with `extra` arguments (`--force`).
    pub fn install_with(&self, version: &str, extra: &[&str]) -> Result<()> {
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
                "--component",
                "ibex-gui",
                "--version",
                version,
            ])
            .args(extra))
    }
}

pub fn remove_if_there(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}
