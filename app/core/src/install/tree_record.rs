//! What an install put into a tree, kept inside it, so that a later install can take unchanged
//! files from it without reading them again: each file's size and SHA-256 (from the signed
//! manifest, which the unpacked bytes were checked against) and the modification time the file
//! had when the install finished. A file whose size or time has changed since (edited, replaced,
//! touched) is never taken.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::error::UpdateError;
use crate::fsx;
use crate::index::FileEntry;

/// The record's name inside the tree. `verify` does not count it.
pub const RECORD_FILE: &str = ".ibex-updater-files.json";

#[derive(Debug, Serialize, Deserialize)]
struct TreeRecord {
    files: Vec<RecordedFile>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RecordedFile {
    path: String,
    size: u64,
    sha256: String,
    /// Nanoseconds since the Unix epoch.
    modified: u128,
}

/// A file of a kept tree that still holds what its install wrote.
#[derive(Debug, Clone)]
pub struct KeptFile {
    pub path: PathBuf,
    pub size: u64,
}

/// Records `files` (paths relative to `tree`, as in the manifest) with their times now.
pub fn write<'a>(
    tree: &Path,
    files: impl IntoIterator<Item = &'a FileEntry>,
) -> Result<(), UpdateError> {
    let mut recorded = Vec::new();
    for entry in files {
        let path = tree.join(&entry.path);
        let meta = fs::symlink_metadata(&path).map_err(UpdateError::io("inspect", &path))?;
        if let Some(modified) = modified(&meta) {
            recorded.push(RecordedFile {
                path: entry.path.clone(),
                size: entry.size,
                sha256: entry.sha256.clone(),
                modified,
            });
        }
    }
    let path = tree.join(RECORD_FILE);
    let text = serde_json::to_vec(&TreeRecord { files: recorded })
        .map_err(|e| UpdateError::io("write", &path)(std::io::Error::other(e.to_string())))?;
    fsx::write_atomically(&path, &text)
}

/// The files of `tree` that still match its record, by SHA-256. A tree without a record (or with
/// one that cannot be read) offers nothing: it is only a missed saving, never an error.
pub fn unchanged(tree: &Path) -> HashMap<String, KeptFile> {
    still_recorded(tree)
        .into_iter()
        .map(|(file, kept)| (file.sha256, kept))
        .collect()
}

/// Whether `tree` still holds every file of `expected` but those `skip` names, as its install
/// wrote them (by its record: sizes and times, not contents).
pub fn holds(tree: &Path, expected: &[&FileEntry], skip: impl Fn(&str) -> bool) -> bool {
    let found: HashMap<String, RecordedFile> = still_recorded(tree)
        .into_iter()
        .map(|(file, _)| (file.path.clone(), file))
        .collect();
    expected.iter().filter(|e| !skip(&e.path)).all(|e| {
        found
            .get(&e.path)
            .is_some_and(|f| f.sha256 == e.sha256 && f.size == e.size)
    })
}

fn still_recorded(tree: &Path) -> Vec<(RecordedFile, KeptFile)> {
    // A tree that is itself a link is not one the updater made.
    if !fs::symlink_metadata(tree).is_ok_and(|m| m.is_dir()) {
        return Vec::new();
    }
    let record_path = tree.join(RECORD_FILE);
    let record = match fsx::read_file_capped(&record_path, fsx::cap::OWN_FILE) {
        Ok(Some(bytes)) => serde_json::from_slice::<TreeRecord>(&bytes).ok(),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("not reusing files of {}: {e}", tree.display());
            None
        }
    };
    let mut found = Vec::new();
    let mut real_folders = RealFolders::default();
    for file in record.map(|r| r.files).unwrap_or_default() {
        let Ok(relative) = super::extract::safe_relative_path(&file.path) else {
            continue;
        };
        // Nothing is taken through a folder that has become a link since the install.
        if !relative
            .parent()
            .is_none_or(|folder| real_folders.check(tree, folder))
        {
            continue;
        }
        let path = tree.join(relative);
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_file() && meta.len() == file.size && modified(&meta) == Some(file.modified) {
            let size = file.size;
            found.push((file, KeptFile { path, size }));
        }
    }
    found
}

/// Folders of a tree found to be real folders all the way down (no link on the way), remembered
/// so that each is looked at once.
#[derive(Default)]
struct RealFolders {
    known: HashMap<PathBuf, bool>,
}

impl RealFolders {
    fn check(&mut self, tree: &Path, folder: &Path) -> bool {
        if folder.as_os_str().is_empty() {
            return true;
        }
        if let Some(&real) = self.known.get(folder) {
            return real;
        }
        let parent_real = folder
            .parent()
            .is_none_or(|parent| self.check(tree, parent));
        let real = parent_real && fs::symlink_metadata(tree.join(folder)).is_ok_and(|m| m.is_dir());
        self.known.insert(folder.to_path_buf(), real);
        real
    }
}

fn modified(meta: &fs::Metadata) -> Option<u128> {
    let time = meta.modified().ok()?;
    Some(time.duration_since(UNIX_EPOCH).ok()?.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, bytes: &[u8]) -> FileEntry {
        let (size, sha256) = crate::digest::of_reader(&mut &bytes[..]).unwrap();
        FileEntry {
            path: path.to_string(),
            size,
            sha256,
        }
    }

    #[test]
    fn a_file_changed_after_the_record_is_not_offered() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path();
        fs::create_dir_all(tree.join("plugins")).unwrap();
        fs::write(tree.join("plugins/a.jar"), b"aaaa").unwrap();
        fs::write(tree.join("plugins/b.jar"), b"bbbb").unwrap();
        let (a, b) = (
            entry("plugins/a.jar", b"aaaa"),
            entry("plugins/b.jar", b"bbbb"),
        );
        write(tree, [&a, &b]).unwrap();
        assert_eq!(unchanged(tree).len(), 2);

        // Same size, new content: the time gives it away.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(tree.join("plugins/b.jar"), b"BBBB").unwrap();
        let offered = unchanged(tree);
        assert!(offered.contains_key(&a.sha256));
        assert!(!offered.contains_key(&b.sha256));
    }

    #[cfg(unix)]
    #[test]
    fn nothing_is_offered_through_a_folder_that_became_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir_all(tree.join("plugins")).unwrap();
        fs::create_dir_all(&elsewhere).unwrap();
        fs::write(tree.join("plugins/a.jar"), b"aaaa").unwrap();
        let a = entry("plugins/a.jar", b"aaaa");
        write(&tree, [&a]).unwrap();
        assert_eq!(unchanged(&tree).len(), 1);

        // The same file, same time, reached through a link to another folder.
        fs::rename(tree.join("plugins"), elsewhere.join("plugins")).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("plugins"), tree.join("plugins")).unwrap();
        assert!(unchanged(&tree).is_empty());
    }

    #[test]
    fn a_tree_without_a_record_offers_nothing() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(RECORD_FILE), b"{not json").unwrap();
        assert!(unchanged(dir.path()).is_empty());
        assert!(unchanged(&dir.path().join("missing")).is_empty());
    }
}
