//! EPICS_UTILS: the site's folder of EPICS command-line tools, mirrored to `<root>/EPICS_UTILS`
//! as today's client script does, but as a transaction of its own: staged, each file checked by
//! size and SHA-256 against what was read from the source, then swapped in whole.
//!
//! The folder is not part of a release and has no signed manifest; what the mirror guarantees is
//! that the installed tree is exactly what the source held when it was read, never half of it.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use super::{InstallOptions, InstallRoot, Part, begin, component_move, lock_and_recover, swap};
use crate::digest::{self, HashingReader};
use crate::error::UpdateError;
use crate::fsx;
use crate::progress::NoProgress;

/// More files than any tools folder holds: past it the source is refused, not walked forever.
const MAX_FILES: usize = 100_000;
/// Folders nested deeper than this are refused (a loop of junctions would otherwise never end).
const MAX_DEPTH: usize = 32;

/// What a mirror run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorReport {
    pub source: PathBuf,
    pub files: usize,
    /// Files that are new or differ from the installed copy.
    pub changed: usize,
    /// Installed files that the source no longer has.
    pub removed: usize,
}

impl MirrorReport {
    pub fn is_unchanged(&self) -> bool {
        self.changed == 0 && self.removed == 0
    }
}

/// Mirrors `source` to `<root>/EPICS_UTILS`. Nothing changes unless every file was copied and
/// checked; when the installed copy already matches, nothing is written at all.
pub fn mirror(
    root: &InstallRoot,
    source: &Path,
    options: &InstallOptions,
) -> Result<MirrorReport, UpdateError> {
    let unreachable = |cause| UpdateError::EpicsUtilsUnreachable {
        path: source.to_path_buf(),
        cause,
    };
    let listed = list(source).map_err(unreachable)?;
    if listed.is_empty() {
        // An unmounted share often shows as an empty folder: never mirror it as "no tools".
        return Err(unreachable(io::Error::other(
            "it holds no files, so the installed EPICS_UTILS was left as it is",
        )));
    }
    let (_lock, _recovered) = lock_and_recover(root, options.lock_wait)?;
    let installed_dir = root.component_dir(Part::EpicsUtils);
    let installed = if installed_dir.is_dir() {
        list(&installed_dir).map_err(UpdateError::io("list", &installed_dir))?
    } else {
        BTreeMap::new()
    };

    let staging = begin(root)?;
    let tree = staging.path().join(Part::EpicsUtils.id());
    let mut changed = 0;
    for (relative, &size) in &listed {
        let from = source.join(relative);
        let to = tree.join(relative);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(UpdateError::io("create", parent))?;
        }
        let sha256 = copy_checked(&from, &to, size)?;
        let same = installed.get(relative) == Some(&size)
            && digest::of_file(&installed_dir.join(relative)).is_ok_and(|(_, s)| s == sha256);
        if !same {
            changed += 1;
        }
    }
    let removed = installed
        .keys()
        .filter(|p| !listed.contains_key(*p))
        .count();
    let report = MirrorReport {
        source: source.to_path_buf(),
        files: listed.len(),
        changed,
        removed,
    };
    if report.is_unchanged() && installed_dir.is_dir() {
        // Dropping the staging folder removes the copies.
        return Ok(report);
    }
    fs::create_dir_all(&tree).map_err(UpdateError::io("create", &tree))?;
    if options.sync {
        fsx::sync_folders(&tree)?;
    }
    let moves = vec![component_move(root, Part::EpicsUtils, tree, staging.path())];
    swap(
        root,
        staging,
        moves,
        Vec::new(),
        super::DEFAULT_KEEP,
        &NoProgress,
    )?;
    Ok(report)
}

/// Copies `from` to `to`, then reads the copy back: both must be `size` bytes with one SHA-256.
fn copy_checked(from: &Path, to: &Path, size: u64) -> Result<String, UpdateError> {
    let unreachable = |cause| UpdateError::EpicsUtilsUnreachable {
        path: from.to_path_buf(),
        cause,
    };
    let file = fsx::open_file(from).map_err(unreachable)?;
    // One byte past the listed size is enough to see that the file grew.
    let mut reader = HashingReader::new(io::Read::take(file, size.saturating_add(1)));
    let mut out = File::create(to).map_err(UpdateError::io("create", to))?;
    io::copy(&mut reader, &mut out).map_err(unreachable)?;
    out.sync_all().map_err(UpdateError::io("sync", to))?;
    let (read, read_sha256) = reader.finish();
    if read != size {
        return Err(UpdateError::Truncated {
            path: from.display().to_string(),
            expected: size,
            actual: read,
        });
    }
    let (written, written_sha256) = digest::of_file(to)?;
    if written != size || written_sha256 != read_sha256 {
        return Err(UpdateError::ChecksumMismatch {
            path: to.display().to_string(),
            expected: read_sha256,
            actual: written_sha256,
        });
    }
    Ok(read_sha256)
}

/// Every file under `dir` with its size, by path relative to `dir`. Links to files are followed
/// (a site may link a tool in); links to folders are not, so that no loop can be walked.
fn list(dir: &Path) -> io::Result<BTreeMap<PathBuf, u64>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![(PathBuf::new(), 0)];
    while let Some((relative, depth)) = pending.pop() {
        for entry in fs::read_dir(dir.join(&relative))? {
            let entry = entry?;
            let path = relative.join(entry.file_name());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if depth + 1 > MAX_DEPTH {
                    return Err(io::Error::other(format!(
                        "{} is nested more than {MAX_DEPTH} folders deep",
                        dir.join(&path).display()
                    )));
                }
                pending.push((path, depth + 1));
                continue;
            }
            let meta = fs::metadata(entry.path())?;
            if !meta.is_file() {
                tracing::warn!(
                    "EPICS_UTILS: skipping {}, not a file",
                    entry.path().display()
                );
                continue;
            }
            files.insert(path, meta.len());
            if files.len() > MAX_FILES {
                return Err(io::Error::other(format!(
                    "{} holds more than {MAX_FILES} files",
                    dir.display()
                )));
            }
        }
    }
    Ok(files)
}
