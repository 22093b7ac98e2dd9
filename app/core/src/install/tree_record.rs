//! What an install put into a tree, kept inside it: every file's path, size, and both checksums
//! (the SHA-256 and the CRC32, whichever the kit listed and the other computed as it was
//! written). A later install looks in it for files it could take instead of unpacking them, by
//! either checksum, so that a tree installed from a signed share serves an install from a share
//! without an index and the other way round, and a hand-edit report knows what the kit wrote.
//!
//! It is a hint, never proof: anyone who can write the install root can write it. Nothing is
//! taken from a tree on its record's word; every file is hashed again first
//! ([`super::reuse`], [`super::stage`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::UpdateError;
use crate::fsx;
use crate::index::FileEntry;

/// The record's name inside the tree. `verify` does not count it.
pub const RECORD_FILE: &str = ".ibex-updater-files.json";

/// Records before this one listed only the kit's files that a later install could share, by
/// SHA-256 alone.
const VERSION: u32 = 2;

#[derive(Debug, Serialize, Deserialize)]
struct TreeRecord {
    #[serde(default)]
    version: u32,
    files: Vec<RecordedFile>,
}

/// One file as its install wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedFile {
    /// Relative, `/`-separated.
    pub path: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<u32>,
}

/// Records `files` in `tree`.
pub fn write(tree: &Path, files: Vec<RecordedFile>) -> Result<(), UpdateError> {
    let path = tree.join(RECORD_FILE);
    let record = TreeRecord {
        version: VERSION,
        files,
    };
    let text = serde_json::to_vec(&record)
        .map_err(|e| UpdateError::serialize(path.display())(e.to_string()))?;
    fsx::write_atomically(&path, &text)
}

/// What `tree`'s record lists, and whether it lists the whole kit (records before version 2
/// left the GUI's state out); `None` without a record that can be read. A path that would leave
/// the tree is dropped.
pub fn read(tree: &Path) -> Option<(Vec<RecordedFile>, bool)> {
    // A tree that is itself a link is not one the updater made.
    if !std::fs::symlink_metadata(tree).is_ok_and(|m| m.is_dir()) {
        return None;
    }
    let bytes = match fsx::read_state_capped(&tree.join(RECORD_FILE), fsx::cap::OWN_FILE) {
        Ok(bytes) => bytes?,
        Err(e) => {
            tracing::warn!("not using the record of {}: {e}", tree.display());
            return None;
        }
    };
    let record: TreeRecord = serde_json::from_slice(&bytes).ok()?;
    let files = record
        .files
        .into_iter()
        .filter(|f| super::extract::safe_relative_path(&f.path).is_ok())
        .collect();
    Some((files, record.version >= VERSION))
}

/// The manifest `tree` was installed with, as its record says: what a hand-edit report compares
/// with. `None` without a record that lists the whole kit.
pub fn files(tree: &Path) -> Option<Vec<FileEntry>> {
    let (files, whole) = read(tree)?;
    whole.then(|| {
        files
            .into_iter()
            .filter_map(|f| {
                Some(FileEntry {
                    sha256: f.sha256?,
                    path: f.path,
                    size: f.size,
                })
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_lists_what_was_written_and_older_ones_are_not_the_whole_kit() {
        let dir = tempfile::tempdir().unwrap();
        let file = RecordedFile {
            path: "plugins/a.jar".into(),
            size: 4,
            sha256: Some("a".repeat(64)),
            crc32: Some(7),
        };
        let unsafe_path = RecordedFile {
            path: "../outside".into(),
            ..file.clone()
        };
        write(dir.path(), vec![file.clone(), unsafe_path]).unwrap();
        assert_eq!(read(dir.path()), Some((vec![file.clone()], true)));
        assert_eq!(files(dir.path()).unwrap()[0].path, "plugins/a.jar");
        std::fs::write(
            dir.path().join(RECORD_FILE),
            r#"{"files":[{"path":"a.jar","size":4,"sha256":"x","modified":1}]}"#,
        )
        .unwrap();
        let (old, whole) = read(dir.path()).unwrap();
        assert!(!whole);
        assert_eq!(old[0].sha256.as_deref(), Some("x"));
        assert_eq!(files(dir.path()), None);
    }
}
