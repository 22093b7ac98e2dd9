//! The manifest of an unpacked kit: every file the updater installs, with its size and SHA-256,
//! computed from the archive without unpacking it to disk. `ibex-updater verify` checks an
//! installed tree against it ([`crate::install::verify`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::archive;

use super::FileEntry;
use crate::client::version::Version;
use crate::client::version_file;
use crate::digest;
use crate::error::UpdateError;

/// The files of `archive`, the version files the updater writes for `version`, and `kit_files`
/// (name in the tree, file on the share), which the updater copies in beside the archive.
pub fn of_kit(
    archive: &Path,
    version: &Version,
    kit_files: &[(&str, PathBuf)],
) -> Result<Vec<FileEntry>, UpdateError> {
    let shown = archive.display().to_string();
    let corrupt = |e: sevenz_rust2::Error| UpdateError::CorruptArchive {
        path: shown.clone(),
        detail: e.to_string(),
    };
    let mut reader = archive::open(archive).map_err(corrupt)?;
    let mut files = BTreeMap::new();
    let mut failure = None;
    let result = reader.for_each_entries(|entry, data| {
        if entry.is_directory {
            return Ok(true);
        }
        match digest::of_reader(data) {
            Ok((size, sha256)) => {
                files.insert(entry.name.replace('\\', "/"), (size, sha256));
                Ok(true)
            }
            Err(e) => {
                failure = Some(e);
                Err(sevenz_rust2::Error::Other(Cow::Borrowed(
                    "manifest stopped",
                )))
            }
        }
    });
    if let Some(e) = failure {
        return Err(UpdateError::CorruptArchive {
            path: shown,
            detail: e.to_string(),
        });
    }
    result.map_err(corrupt)?;
    for (name, text) in version_file::contents(version) {
        files.insert(
            name.to_string(),
            digest::of_reader(&mut text.as_bytes()).map_err(UpdateError::io("hash", archive))?,
        );
    }
    for (name, path) in kit_files {
        files.insert(name.to_string(), digest::of_file(path)?);
    }
    Ok(files
        .into_iter()
        .map(|(path, (size, sha256))| FileEntry { path, size, sha256 })
        .collect())
}
