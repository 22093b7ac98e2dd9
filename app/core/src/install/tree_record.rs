//! What an install put into a tree, kept inside it, so that a later install can take unchanged
//! files from it without reading them again: each file's size and SHA-256 (from the signed
//! manifest, which the unpacked bytes were checked against) and the modification time the file
//! had when the install finished. A file whose size or time has changed since (edited, replaced,
//! touched) is never taken.
//!
//! A time only shows an edit made in a later tick of the filesystem's clock than the file's last
//! write (a few milliseconds on ext4, two seconds on FAT). A file written in the tick in which the
//! record was written could still be edited within that tick, after the record, and keep its time:
//! such a file (its time not older than the record's own) is "racy", as git calls it, and its
//! SHA-256 is checked before it is taken.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::digest;
use crate::error::UpdateError;
use crate::fsx;
use crate::index::FileEntry;

/// The record's name inside the tree. `verify` does not count it.
pub const RECORD_FILE: &str = ".ibex-updater-files.json";

#[derive(Debug, Serialize, Deserialize)]
struct TreeRecord {
    files: Vec<RecordedFile>,
    /// The rest of the kit's manifest: what the GUI, the updater and people write to after the
    /// install (settings, version files, the kit's files beside its archive). Never taken for
    /// another tree, since a time says nothing there, but what tells a hand edit from the kit's
    /// own file. Records written before it was kept have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<Vec<FileEntry>>,
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
    /// Written in the record's own tick: its time cannot show an edit, so its content must be
    /// checked before it is taken.
    pub racy: bool,
}

impl KeptFile {
    /// Whether the file's content has `size` and `sha256` (read and hashed now).
    pub fn content_is(&self, size: u64, sha256: &str) -> bool {
        digest::of_file(&self.path).is_ok_and(|(s, h)| s == size && h == sha256)
    }
}

/// Records `files` (paths relative to `tree`, as in the manifest) with their times now, and
/// `state`, the rest of the kit's manifest.
pub fn write<'a>(
    tree: &Path,
    files: impl IntoIterator<Item = &'a FileEntry>,
    state: impl IntoIterator<Item = &'a FileEntry>,
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
    let record = TreeRecord {
        files: recorded,
        state: Some(state.into_iter().cloned().collect()),
    };
    let text = serde_json::to_vec(&record)
        .map_err(|e| UpdateError::io("write", &path)(std::io::Error::other(e.to_string())))?;
    fsx::write_atomically(&path, &text)
}

/// The manifest `tree`'s record says it was installed with; `None` without a readable record
/// that holds it all. Only a hint: nothing is taken on its word.
pub fn files(tree: &Path) -> Option<Vec<FileEntry>> {
    let bytes = fsx::read_file_capped(&tree.join(RECORD_FILE), fsx::cap::OWN_FILE).ok()??;
    let record: TreeRecord = serde_json::from_slice(&bytes).ok()?;
    let state = record.state?;
    let files = record.files.into_iter().map(|f| FileEntry {
        path: f.path,
        size: f.size,
        sha256: f.sha256,
    });
    Some(
        files
            .chain(state)
            .filter(|f| super::extract::safe_relative_path(&f.path).is_ok())
            .collect(),
    )
}

/// The files of `tree` that still match its record, by SHA-256, the racy ones marked. A tree
/// without a record (or with one that cannot be read) offers nothing: it is only a missed saving,
/// never an error.
pub fn unchanged(tree: &Path) -> HashMap<String, KeptFile> {
    still_recorded(tree)
        .into_iter()
        .map(|(file, kept)| (file.sha256, kept))
        .collect()
}

/// Whether `tree` still holds every file of `expected` but those `skip` names, as its install
/// wrote them (by its record: sizes and times, and the contents of racy files only).
pub fn holds(tree: &Path, expected: &[&FileEntry], skip: impl Fn(&str) -> bool) -> bool {
    let found: HashMap<String, (RecordedFile, KeptFile)> = still_recorded(tree)
        .into_iter()
        .map(|(file, kept)| (file.path.clone(), (file, kept)))
        .collect();
    expected.iter().filter(|e| !skip(&e.path)).all(|e| {
        found.get(&e.path).is_some_and(|(f, kept)| {
            f.sha256 == e.sha256
                && f.size == e.size
                && (!kept.racy || kept.content_is(e.size, &e.sha256))
        })
    })
}

fn still_recorded(tree: &Path) -> Vec<(RecordedFile, KeptFile)> {
    // A tree that is itself a link is not one the updater made.
    if !fs::symlink_metadata(tree).is_ok_and(|m| m.is_dir()) {
        return Vec::new();
    }
    let record_path = tree.join(RECORD_FILE);
    // The record's own time, from the same clock as its files' times.
    let Some(recorded_at) = fs::symlink_metadata(&record_path)
        .ok()
        .and_then(|m| modified(&m))
    else {
        return Vec::new();
    };
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
            let kept = KeptFile {
                path,
                size: file.size,
                racy: file.modified >= recorded_at,
            };
            found.push((file, kept));
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
pub(crate) mod tests {
    use super::*;

    fn entry(path: &str, bytes: &[u8]) -> FileEntry {
        let (size, sha256) = digest::of_reader(&mut &bytes[..]).unwrap();
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
        write(tree, [&a, &b], []).unwrap();
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
        write(&tree, [&a], []).unwrap();
        assert_eq!(unchanged(&tree).len(), 1);

        // The same file, same time, reached through a link to another folder.
        fs::rename(tree.join("plugins"), elsewhere.join("plugins")).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("plugins"), tree.join("plugins")).unwrap();
        assert!(unchanged(&tree).is_empty());
    }

    /// Sets `path`'s modification time.
    fn set_time(path: &Path, time: std::time::SystemTime) {
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(time)
            .unwrap();
    }

    /// A tree of `a.jar` (written an hour before its record) and `b.jar` (written in the record's
    /// own tick, then edited to other bytes of the same size within that tick): what a time
    /// cannot show.
    pub(crate) fn tree_with_an_edit_in_the_records_tick(tree: &Path) -> (FileEntry, FileEntry) {
        let (a, b) = (entry("a.jar", b"aaaa"), entry("b.jar", b"bbbb"));
        fs::write(tree.join("a.jar"), b"aaaa").unwrap();
        fs::write(tree.join("b.jar"), b"bbbb").unwrap();
        let now = std::time::SystemTime::now();
        set_time(
            &tree.join("a.jar"),
            now - std::time::Duration::from_secs(3600),
        );
        set_time(&tree.join("b.jar"), now);
        write(tree, [&a, &b], []).unwrap();
        set_time(&tree.join(RECORD_FILE), now);
        fs::write(tree.join("b.jar"), b"BBBB").unwrap();
        set_time(&tree.join("b.jar"), now);
        (a, b)
    }

    #[test]
    fn a_file_written_in_the_records_tick_is_racy_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = tree_with_an_edit_in_the_records_tick(dir.path());
        let offered = unchanged(dir.path());
        assert!(!offered[&a.sha256].racy);
        assert!(offered[&b.sha256].racy);
        assert!(!offered[&b.sha256].content_is(b.size, &b.sha256));
    }

    #[test]
    fn a_tree_with_a_racy_edit_does_not_hold_its_release() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = tree_with_an_edit_in_the_records_tick(dir.path());
        assert!(!holds(dir.path(), &[&a, &b], |_| false));
        // Its bytes put back, with the record's time: the content checks again.
        let b_path = dir.path().join("b.jar");
        let time = fs::metadata(&b_path).unwrap().modified().unwrap();
        fs::write(&b_path, b"bbbb").unwrap();
        set_time(&b_path, time);
        assert!(holds(dir.path(), &[&a, &b], |_| false));
    }

    #[test]
    fn a_tree_without_a_record_offers_nothing() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(RECORD_FILE), b"{not json").unwrap();
        assert!(unchanged(dir.path()).is_empty());
        assert!(unchanged(&dir.path().join("missing")).is_empty());
    }
}
