//! `ibex-updater publish`: walks a release share and writes its signed index.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::clock::unix_seconds;
use crate::digest;
use crate::error::UpdateError;
use crate::index::{
    FORMAT, INDEX_FILE, IndexKit, IndexRelease, ReleaseIndex, SIGNATURE_FILE, UPDATER_DIR,
    UpdaterBuild, manifest, signature,
};
use crate::release::Kit;
use crate::source::{ReleaseSource, ShareSource};

#[derive(Debug, Clone)]
pub struct PublishOptions {
    pub share: PathBuf,
    pub key: PathBuf,
    /// Where index.json and its signature go (the share itself, or a mirror's folder).
    pub out: PathBuf,
    /// Defaults to one more than the index already in `out`, or 1.
    pub serial: Option<u64>,
    /// A name for the release source, written into the index (see [`ReleaseIndex::source`]).
    pub source_id: Option<String>,
    pub valid_for: Duration,
}

/// Writes `index.json` and `index.json.minisig` for every complete kit of the share.
pub fn publish(options: &PublishOptions, now: SystemTime) -> Result<ReleaseIndex, UpdateError> {
    let previous = previous_serial(&options.out.join(INDEX_FILE));
    let serial = match (options.serial, previous) {
        (Some(serial), Some(previous)) if serial <= previous => {
            return Err(UpdateError::SerialNotAbove { serial, previous });
        }
        (Some(serial), _) => serial,
        (None, previous) => previous.map_or(1, |p| p + 1),
    };
    let source = ShareSource::new(&options.share);
    let mut releases = Vec::new();
    for release in source.read_catalog()?.releases {
        let mut kits = Vec::new();
        for kit in release.kits.iter().filter(|k| k.is_complete()) {
            let Some(version) = &kit.version else {
                continue;
            };
            let archive = PathBuf::from(&kit.archive);
            tracing::info!("indexing {}", archive.display());
            let (size, sha256) = digest::of_file(&archive)?;
            kits.push(IndexKit {
                component: kit.component,
                archive: relative(&options.share, &archive),
                size,
                sha256,
                version: version.to_string(),
                files: manifest::of_kit(&archive, version, &kit_files(&options.share, kit))?,
            });
        }
        if !kits.is_empty() {
            releases.push(IndexRelease {
                name: release.name.to_string(),
                kits,
            });
        }
    }
    let index = ReleaseIndex {
        format: FORMAT,
        serial,
        source: options.source_id.clone(),
        published: unix_seconds(now),
        expires: unix_seconds(now.checked_add(options.valid_for).unwrap_or(now)),
        releases,
        updater: updater_builds(&options.share)?,
    };
    let json = serde_json::to_string_pretty(&index)
        .map_err(|e| UpdateError::serialize(INDEX_FILE)(e.to_string()))?
        + "\n";
    let comment = format!(
        "ibex-updater index serial {serial}, expires at unix time {}",
        index.expires
    );
    let signature = signature::sign(json.as_bytes(), &options.key, &comment)?;
    // The signature first: a reader caught between the two renames sees a mismatch and refuses,
    // rather than trusting a new index under an old signature.
    crate::fsx::write_atomically(&options.out.join(SIGNATURE_FILE), signature.as_bytes())?;
    crate::fsx::write_atomically(&options.out.join(INDEX_FILE), json.as_bytes())?;
    Ok(index)
}

/// The kit's files beside its archive, by their name in the installed tree.
fn kit_files(share: &Path, kit: &Kit) -> Vec<(&'static str, PathBuf)> {
    kit.files
        .iter()
        .map(|f| (f.name, share.join(&f.path)))
        .collect()
}

/// Every `Updater/<version>/<target>/ibex-updater[.exe]` on the share.
fn updater_builds(share: &Path) -> Result<Vec<UpdaterBuild>, UpdateError> {
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
                if path.is_file() {
                    let (size, sha256) = digest::of_file(&path)?;
                    builds.push(UpdaterBuild {
                        target: target.clone(),
                        version: version.clone(),
                        path: relative(share, &path),
                        size,
                        sha256,
                    });
                }
            }
        }
    }
    Ok(builds)
}

fn subfolders(dir: &Path) -> Result<Vec<PathBuf>, UpdateError> {
    let entries = match std::fs::read_dir(dir) {
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

fn previous_serial(path: &Path) -> Option<u64> {
    let bytes = crate::fsx::read_file_capped(path, crate::fsx::cap::INDEX)
        .ok()
        .flatten()?;
    serde_json::from_slice::<serde_json::Value>(&bytes).ok()?["serial"].as_u64()
}

fn relative(share: &Path, archive: &Path) -> String {
    let relative = archive.strip_prefix(share).unwrap_or(archive);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
