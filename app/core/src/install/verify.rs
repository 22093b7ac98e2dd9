//! `ibex-updater verify`: an installed component checked file by file against the manifest that
//! the signed index lists for its version.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::fixups::USER_STATE;
use super::tree_record::RECORD_FILE;
use super::{HISTORY_FILE, INI_FILE, InstallRoot};
use crate::client::component::Component;
use crate::client::version_file;
use crate::digest;
use crate::error::UpdateError;
use crate::fsx;
use crate::index::FileEntry;

/// How an installed tree differs from its manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Differences {
    pub missing: Vec<String>,
    pub changed: Vec<String>,
    pub extra: Vec<String>,
}

impl Differences {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.changed.is_empty() && self.extra.is_empty()
    }
}

/// Files the updater itself changes after unpacking (the RMI host name, the carried-over console
/// history): not counted as differences.
const CHANGED_ON_PURPOSE: [&str; 3] = [INI_FILE, HISTORY_FILE, RECORD_FILE];

/// The updater's own changes, and the user's state that it carries from one version to the next.
pub(super) fn is_changed_on_purpose(path: &str) -> bool {
    CHANGED_ON_PURPOSE.contains(&path)
        || USER_STATE.iter().any(|folder| {
            path.strip_prefix(folder)
                .is_some_and(|rest| rest.starts_with('/'))
        })
}

/// Files that people edit by hand: settings and scripts. An install compares only these with the
/// old version's manifest, to say which local edits the new version does not carry.
const EDITABLE: [&str; 12] = [
    "ini",
    "cfg",
    "conf",
    "properties",
    "prefs",
    "xml",
    "txt",
    "py",
    "bat",
    "json",
    "yaml",
    "toml",
];

/// Whether people edit files like `path` by hand, by its extension.
pub(super) fn is_editable(path: &str) -> bool {
    path.rsplit_once('.')
        .is_some_and(|(_, ext)| EDITABLE.contains(&ext.to_ascii_lowercase().as_str()))
}

/// The files of the tree under `dir` that differ from `files` and that people edit by hand.
pub fn edited(dir: &Path, files: &[FileEntry]) -> Result<Vec<String>, UpdateError> {
    let editable: Vec<FileEntry> = files
        .iter()
        .filter(|f| is_editable(&f.path))
        .filter(|f| !is_changed_on_purpose(&f.path))
        .cloned()
        .collect();
    let mut edited = Vec::new();
    for entry in &editable {
        let path = dir.join(&entry.path);
        if let Ok(Some(mut file)) = fsx::open_state(&path) {
            let (size, sha256) =
                digest::of_reader(&mut file).map_err(UpdateError::io("read", &path))?;
            if size != entry.size || sha256 != entry.sha256 {
                edited.push(entry.path.clone());
            }
        }
    }
    Ok(edited)
}

/// Compares the tree under `dir` with `files`.
pub fn compare(dir: &Path, files: &[FileEntry]) -> Result<Differences, UpdateError> {
    let mut differences = Differences::default();
    let listed: BTreeMap<&str, &FileEntry> = files.iter().map(|f| (f.path.as_str(), f)).collect();
    for entry in files {
        if is_changed_on_purpose(&entry.path) {
            continue;
        }
        let path = dir.join(&entry.path);
        // A link, a FIFO or a device where the kit has a file is not the kit's file: never
        // followed or waited on.
        match fsx::open_state(&path) {
            Ok(Some(mut file)) => {
                let (size, sha256) =
                    digest::of_reader(&mut file).map_err(UpdateError::io("read", &path))?;
                if size != entry.size || sha256 != entry.sha256 {
                    differences.changed.push(entry.path.clone());
                }
            }
            Ok(None) => differences.missing.push(entry.path.clone()),
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                differences.changed.push(entry.path.clone())
            }
            Err(e) => return Err(UpdateError::io("read", &path)(e)),
        }
    }
    for path in walk(dir)? {
        if !listed.contains_key(path.as_str()) && !is_changed_on_purpose(&path) {
            differences.extra.push(path);
        }
    }
    Ok(differences)
}

/// Every file under `dir`, relative, with `/` separators, sorted.
fn walk(dir: &Path) -> Result<Vec<String>, UpdateError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).map_err(UpdateError::io("list", &current))? {
            let entry = entry.map_err(UpdateError::io("list", &current))?;
            let path = entry.path();
            if entry
                .file_type()
                .map_err(UpdateError::io("inspect", &path))?
                .is_dir()
            {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                let parts: Vec<_> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect();
                found.push(parts.join("/"));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// What `verify` found for one installed component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstalledCheck {
    NotInstalled,
    /// The installed version is not in the index, so there is no manifest to check it against.
    NotListed {
        version: String,
    },
    Checked {
        version: String,
        release: String,
        differences: Differences,
    },
}

/// Checks an installed component against the manifest of the kit it was installed from:
/// `listed` finds, for the installed version, the release that published it and its manifest.
pub fn check_installed(
    root: &InstallRoot,
    component: Component,
    listed: impl FnOnce(&str) -> Result<Option<(String, Arc<[FileEntry]>)>, UpdateError>,
) -> Result<InstalledCheck, UpdateError> {
    let dir = root.component_dir(component);
    let Some(installed) = version_file::installed(&dir) else {
        return Ok(InstalledCheck::NotInstalled);
    };
    let version = installed.to_string();
    let Some((release, files)) = listed(&version)? else {
        return Ok(InstalledCheck::NotListed { version });
    };
    Ok(InstalledCheck::Checked {
        version,
        release,
        differences: compare(&dir, &files)?,
    })
}
