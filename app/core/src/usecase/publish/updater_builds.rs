//! The updater's own builds on the share, `Updater/<version>/<target>/ibex-updater[.exe]`, for
//! `self-update`: carried over from the previous index unread when their size and modification
//! time are what it recorded, hashed otherwise.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::kits::relative;
use crate::digest;
use crate::error::UpdateError;
use crate::index::{ReleaseIndex, UPDATER_DIR, UpdaterBuild};

/// Every build on the share.
pub fn list(
    share: &Path,
    previous: Option<&ReleaseIndex>,
) -> Result<Vec<UpdaterBuild>, UpdateError> {
    let mut builds = Vec::new();
    for version_dir in subfolders(&share.join(UPDATER_DIR))? {
        let Some(version) = folder_name(&version_dir) else {
            continue;
        };
        if semver::Version::parse(&version).is_err() {
            tracing::warn!("skipping {}: not a version", version_dir.display());
            continue;
        }
        for target_dir in subfolders(&version_dir)? {
            let Some(target) = folder_name(&target_dir) else {
                continue;
            };
            for name in ["ibex-updater", "ibex-updater.exe"] {
                let path = target_dir.join(name);
                let Ok(meta) = fs::metadata(&path) else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                let relative = relative(share, &path);
                let modified_ns = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .and_then(|d| u64::try_from(d.as_nanos()).ok());
                let carried = previous.and_then(|p| {
                    p.updater.iter().find(|b| {
                        b.path == relative
                            && b.size == meta.len()
                            && b.modified_ns.is_some()
                            && b.modified_ns == modified_ns
                    })
                });
                let (size, sha256) = match carried {
                    Some(build) => (build.size, build.sha256.clone()),
                    None => digest::of_file(&path)?,
                };
                builds.push(UpdaterBuild {
                    target: target.clone(),
                    version: version.clone(),
                    path: relative,
                    size,
                    sha256,
                    modified_ns,
                });
            }
        }
    }
    Ok(builds)
}

fn subfolders(dir: &Path) -> Result<Vec<PathBuf>, UpdateError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(UpdateError::io("list", dir)(e)),
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}

fn folder_name(path: &Path) -> Option<String> {
    path.file_name().and_then(|n| n.to_str()).map(String::from)
}
