//! Writing only what changed: the files a new version shares with a tree already on disk (the
//! installed one, or one kept for rollback or switching) are taken from it into the staged tree
//! (hard-linked, or copied) instead of being unpacked again.
//!
//! Anyone who can write the install root can change those trees and their records, so nothing is
//! taken on a record's word: each candidate is found through the records (by either checksum, or
//! by its path) and then hashed now; only a file whose bytes pass the kit's check is taken. A file
//! reached through a link is never taken, and for a privileged run a file another account owns is
//! copied, never linked, so that no other account can write to a file of the new tree.
//!
//! A hard link shares one file between two trees, so only files that nobody writes in place may be
//! linked. The GUI writes into its own tree (`configuration/`, `workspace/`), the updater edits
//! `ibex-client.ini` and the version files, and people edit settings and scripts by hand: those are
//! always unpacked fresh, one copy per tree. What is linked (jars, libraries, programs) is also
//! marked read-only, so that a program that did try to write one in place would fail rather than
//! change both trees.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::extract::safe_relative_path;
use super::kit_files::{Check, Wanted};
use super::tree_record;
use super::verify;
use crate::client::version_file;
use crate::digest::{self, Sums};
use crate::error::UpdateError;
use crate::fsx;
use crate::worker;

/// The folder Eclipse writes its caches and settings into while the GUI runs.
const GUI_WRITES: &str = "configuration/";
/// Candidates hashed for one file, at most: a file unchanged since the last release is found
/// at its own path or by its checksum in the first tree looked in.
const CANDIDATES: usize = 3;

/// Whether the file at `path` (relative, `/`-separated) is written while the client is in use:
/// by the GUI, or by the updater when it installs.
pub fn is_gui_state(path: &str) -> bool {
    path.starts_with(GUI_WRITES) || verify::is_changed_on_purpose(path)
}

/// Whether the file at `path` (relative, `/`-separated) may be shared between two trees.
pub fn is_shareable(path: &str) -> bool {
    !is_gui_state(path)
        && !verify::is_editable(path)
        && path != version_file::VERSION_FILE
        && path != version_file::BUILD_FILE
}

/// What was taken from the trees on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Taken {
    /// Paths now in the staged tree.
    pub paths: HashSet<String>,
    pub linked: u64,
    /// Taken by copying, where a link could not (or may not) be made.
    pub copied: u64,
    pub bytes: u64,
    /// Both sums of each file taken, for the new tree's record.
    pub sums: Vec<(String, Sums)>,
}

/// Puts into `staged` every shareable file of `wanted` that one of `bases` holds, proven by
/// hashing it now.
pub fn take_unchanged(
    wanted: &[&Wanted],
    bases: &[PathBuf],
    staged: &Path,
) -> Result<Taken, UpdateError> {
    let index = Candidates::of(bases);
    let shareable: Vec<(&Wanted, Vec<PathBuf>)> = wanted
        .iter()
        .filter(|w| is_shareable(&w.path))
        .map(|w| (*w, index.for_file(w)))
        .filter(|(_, candidates)| !candidates.is_empty())
        .collect();
    let proven = worker::map(
        "reuse",
        &shareable,
        worker::cores(),
        |(wanted, candidates)| candidates.iter().find_map(|c| prove(c, wanted)),
    );
    let mut taken = Taken::default();
    for ((wanted, _), proof) in shareable.iter().zip(proven) {
        let Some(Some(proof)) = proof else {
            continue;
        };
        let Ok(relative) = safe_relative_path(&wanted.path) else {
            continue;
        };
        let dest = staged.join(relative);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(UpdateError::io("create", parent))?;
        }
        // The trees' folders are writable by others: what is at the path now may not be the
        // file that was hashed. A link must be to that very file, and a copy is hashed again.
        if proof.may_link && fs::hard_link(&proof.path, &dest).is_ok() {
            if !proof.is_at(&dest) {
                fsx::remove_file(&dest)?;
                continue;
            }
            set_read_only(&dest)?;
            taken.linked += 1;
        } else {
            fsx::copy_file(&proof.path, &dest)?;
            if !passes(&dest, wanted.size, |sums| sums.pass(&wanted.check)) {
                fsx::remove_file(&dest)?;
                continue;
            }
            taken.copied += 1;
        }
        taken.bytes += wanted.size;
        taken.paths.insert(wanted.path.clone());
        taken.sums.push((wanted.path.clone(), proof.sums));
    }
    Ok(taken)
}

/// A file on disk proven to hold what a kit wants.
struct Proof {
    path: PathBuf,
    sums: Sums,
    /// Whether it may be shared by a hard link (only this run's account, or any account for an
    /// unprivileged run, can write it).
    may_link: bool,
    /// The file hashed (device and inode), to know a link made later is to it.
    #[cfg(unix)]
    id: (u64, u64),
}

impl Proof {
    /// Whether `path` is the very file that was hashed.
    #[cfg(unix)]
    fn is_at(&self, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        fs::symlink_metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == self.id)
    }

    /// Windows' std cannot name a file's identity; there no run is privileged (see `account`), so
    /// whoever could swap the file could have written the tree itself.
    #[cfg(not(unix))]
    fn is_at(&self, _path: &Path) -> bool {
        true
    }
}

/// Whether the regular file at `path` (no link) is `size` bytes long and its sums pass `check`.
/// The size is compared first and no more than one byte past it is read, so that a huge or
/// sparse file planted in a tree costs nothing to refuse.
pub(super) fn passes(path: &Path, size: u64, check: impl Fn(&Sums) -> bool) -> bool {
    let Ok(Some(file)) = fsx::open_state(path) else {
        return false;
    };
    if !file.metadata().is_ok_and(|m| m.len() == size) {
        return false;
    }
    digest::sums_of_reader(&mut (&file).take(size.saturating_add(1)))
        .is_ok_and(|(read, sums)| read == size && check(&sums))
}

/// Hashes `candidate` now: `Some` when it is a regular file reached through real folders only,
/// of the wanted size, whose bytes pass the wanted check.
fn prove(candidate: &Path, wanted: &Wanted) -> Option<Proof> {
    let file = fsx::open_state(candidate).ok()??;
    let meta = file.metadata().ok()?;
    if meta.len() != wanted.size {
        return None;
    }
    let (size, sums) =
        digest::sums_of_reader(&mut (&file).take(wanted.size.saturating_add(1))).ok()?;
    (size == wanted.size && sums.pass(&wanted.check)).then(|| Proof {
        path: candidate.to_path_buf(),
        sums,
        may_link: crate::account::foreign_owner(&meta).is_none(),
        #[cfg(unix)]
        id: {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        },
    })
}

/// Where each file might be found, from the trees' records.
struct Candidates<'a> {
    bases: Vec<&'a Path>,
    by_check: HashMap<(Check, u64), Vec<PathBuf>>,
    /// What the records say each file is: enough to pass over a file that was another (a new
    /// release's files are at the old paths with other bytes), never to take one unhashed.
    recorded: HashMap<PathBuf, tree_record::RecordedFile>,
}

impl<'a> Candidates<'a> {
    fn of(bases: &'a [PathBuf]) -> Candidates<'a> {
        let mut by_check: HashMap<(Check, u64), Vec<PathBuf>> = HashMap::new();
        let mut recorded = HashMap::new();
        let bases: Vec<&Path> = bases
            .iter()
            .filter(|b| fs::symlink_metadata(b).is_ok_and(|m| m.is_dir()))
            .map(PathBuf::as_path)
            .collect();
        for base in &bases {
            let Some((files, _)) = tree_record::read(base) else {
                continue;
            };
            for file in files {
                let Some(path) = inside(base, &file.path) else {
                    continue;
                };
                let checks = [
                    file.sha256.clone().map(Check::Sha256),
                    file.crc32.map(Check::Crc32),
                ];
                for check in checks.into_iter().flatten() {
                    by_check
                        .entry((check, file.size))
                        .or_default()
                        .push(path.clone());
                }
                recorded.insert(path, file);
            }
        }
        Candidates {
            bases,
            by_check,
            recorded,
        }
    }

    /// Where `wanted` might be: where a record lists its checksum, then at its own path in each
    /// tree (a tree with no record, or one whose record is wrong, still offers its files).
    fn for_file(&self, wanted: &Wanted) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = self
            .by_check
            .get(&(wanted.check.clone(), wanted.size))
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        for base in &self.bases {
            if let Some(path) = inside(base, &wanted.path)
                && !found.contains(&path)
                && !self.recorded.get(&path).is_some_and(|r| differs(r, wanted))
            {
                found.push(path);
            }
        }
        found.truncate(CANDIDATES);
        found
    }
}

/// Whether the record `recorded` says its file is not `wanted`: another size, or another
/// checksum of the kind `wanted` is checked by.
fn differs(recorded: &tree_record::RecordedFile, wanted: &Wanted) -> bool {
    recorded.size != wanted.size
        || match &wanted.check {
            Check::Sha256(sha256) => recorded.sha256.as_ref().is_some_and(|s| s != sha256),
            Check::Crc32(crc32) => recorded.crc32.is_some_and(|c| c != *crc32),
        }
}

/// `relative` under `base`, when every folder on the way is a real folder of the tree (none has
/// become a link since the install).
fn inside(base: &Path, relative: &str) -> Option<PathBuf> {
    let relative = safe_relative_path(relative).ok()?;
    let mut folder = base.to_path_buf();
    if let Some(parent) = relative.parent() {
        for part in parent.components() {
            folder.push(part);
            if !fs::symlink_metadata(&folder).is_ok_and(|m| m.is_dir()) {
                return None;
            }
        }
    }
    Some(base.join(relative))
}

fn set_read_only(path: &Path) -> Result<(), UpdateError> {
    let mut permissions = fs::metadata(path)
        .map_err(UpdateError::io("inspect", path))?
        .permissions();
    permissions.set_readonly(true);
    fs::set_permissions(path, permissions).map_err(UpdateError::io("set permissions on", path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::tree_record::RecordedFile;

    fn wanted(path: &str, bytes: &[u8], by_sha: bool) -> Wanted {
        let sums = digest::sums_of(bytes);
        Wanted {
            path: path.into(),
            size: bytes.len() as u64,
            check: if by_sha {
                Check::Sha256(sums.sha256)
            } else {
                Check::Crc32(sums.crc32)
            },
        }
    }

    #[test]
    fn files_are_taken_only_when_their_bytes_pass_now_whatever_the_record_says() {
        let dir = tempfile::tempdir().unwrap();
        let (base, staged) = (dir.path().join("base"), dir.path().join("staged"));
        fs::create_dir_all(base.join("plugins")).unwrap();
        fs::create_dir_all(&staged).unwrap();
        fs::write(base.join("plugins/a.jar"), b"aaaa").unwrap();
        fs::write(base.join("plugins/b.jar"), b"BBBB").unwrap();
        // The record says b.jar holds "bbbb": it lies, and b.jar is not taken.
        let recorded = |path: &str, bytes: &[u8]| {
            let sums = digest::sums_of(bytes);
            RecordedFile {
                path: path.into(),
                size: 4,
                sha256: Some(sums.sha256),
                crc32: Some(sums.crc32),
            }
        };
        tree_record::write(
            &base,
            vec![
                recorded("plugins/a.jar", b"aaaa"),
                recorded("plugins/b.jar", b"bbbb"),
            ],
        )
        .unwrap();
        let a = wanted("plugins/a.jar", b"aaaa", true);
        let b = wanted("plugins/b.jar", b"bbbb", true);
        // Found by its CRC under another name, as an unsigned install would look for it.
        let moved = wanted("lib/moved.jar", b"aaaa", false);
        let taken = take_unchanged(&[&a, &b, &moved], &[base], &staged).unwrap();
        assert_eq!(
            taken.paths,
            HashSet::from([a.path.clone(), moved.path.clone()])
        );
        assert_eq!(fs::read(staged.join("lib/moved.jar")).unwrap(), b"aaaa");
        assert!(!staged.join("plugins/b.jar").exists());
        assert_eq!(taken.sums.len(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_reached_through_a_link_is_not_taken() {
        let dir = tempfile::tempdir().unwrap();
        let (base, staged, outside) = (
            dir.path().join("base"),
            dir.path().join("staged"),
            dir.path().join("outside"),
        );
        fs::create_dir_all(&base).unwrap();
        fs::create_dir_all(&staged).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("a.jar"), b"aaaa").unwrap();
        std::os::unix::fs::symlink(&outside, base.join("plugins")).unwrap();
        std::os::unix::fs::symlink(outside.join("a.jar"), base.join("b.jar")).unwrap();
        let a = wanted("plugins/a.jar", b"aaaa", true);
        let b = wanted("b.jar", b"aaaa", true);
        let taken = take_unchanged(&[&a, &b], &[base], &staged).unwrap();
        assert!(taken.paths.is_empty());
    }

    #[test]
    fn only_files_nobody_writes_in_place_are_shared() {
        for path in [
            "plugins/uk.ac.stfc.isis.ibex.ui.jar",
            "jre/bin/java.exe",
            "Lib/x.pyd",
        ] {
            assert!(is_shareable(path), "{path}");
        }
        for path in [
            "configuration/org.eclipse.osgi/bundles.info",
            "configuration/.settings/prefs.prefs",
            "workspace/.metadata/.log",
            "ibex-client.ini",
            "VERSION.txt",
            "BUILD_NUMBER.txt",
            "plugins/x/settings.xml",
            "Lib/site-packages/genie.py",
            tree_record::RECORD_FILE,
        ] {
            assert!(!is_shareable(path), "{path}");
        }
    }
}
