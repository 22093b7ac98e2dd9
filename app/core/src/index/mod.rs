//! The signed release index: `index.json` beside a release share (or on its HTTP mirror), with
//! `index.json.minisig`, its minisign signature. For every release and complete kit it records the
//! archive's path, size and SHA-256, its version and build, and the manifest of the unpacked tree.
//!
//! A serial number that only increases and an expiry time guard against an attacker serving an
//! older (rollback) or a stale (freeze) index that was once validly signed.

pub mod manifest;
pub mod signature;
pub mod trust;

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::client::component::Component;
use crate::clock::from_unix_seconds;
use crate::error::UpdateError;
pub use crate::release::FileEntry;

pub const INDEX_FILE: &str = "index.json";
pub const SIGNATURE_FILE: &str = "index.json.minisig";
pub const FORMAT: u32 = 1;
/// Where the release team puts the updater's own builds: `Updater/<version>/<target>/ibex-updater[.exe]`.
pub const UPDATER_DIR: &str = "Updater";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseIndex {
    pub format: u32,
    /// Raised by every publish; the updater refuses an index older than one it has seen.
    pub serial: u64,
    /// Unix seconds.
    pub published: u64,
    /// Unix seconds; after this the index must be republished.
    pub expires: u64,
    /// Names the release source (`publish --source-id`). With the signing key it identifies the
    /// index wherever it is fetched from, for the memory of serials seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub releases: Vec<IndexRelease>,
    /// Builds of the updater itself, for `self-update`.
    #[serde(default)]
    pub updater: Vec<UpdaterBuild>,
}

/// One build of ibex-updater, from `Updater/<version>/<target>/` on the share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdaterBuild {
    /// The Rust target triple it runs on, e.g. `x86_64-pc-windows-msvc`.
    pub target: String,
    pub version: String,
    /// Relative to the share's root, with `/` separators.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexRelease {
    /// The release folder, e.g. `26.2.1` or `26.2.1-hotfix`.
    pub name: String,
    pub kits: Vec<IndexKit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexKit {
    pub component: Component,
    /// Relative to the share's root, with `/` separators.
    pub archive: String,
    pub size: u64,
    pub sha256: String,
    /// The kit's full version, build included, e.g. `26.2.1.1302`.
    pub version: String,
    /// Every file of the unpacked tree as the updater installs it.
    pub files: Vec<FileEntry>,
}

impl ReleaseIndex {
    pub fn kit(&self, release: &str, component: Component) -> Option<&IndexKit> {
        self.releases
            .iter()
            .find(|r| r.name == release)
            .and_then(|r| r.kits.iter().find(|k| k.component == component))
    }

    /// Parses an index whose signature has already been checked.
    pub fn parse(bytes: &[u8], location: &str) -> Result<ReleaseIndex, UpdateError> {
        let index: ReleaseIndex =
            serde_json::from_slice(bytes).map_err(|e| UpdateError::BadIndex {
                location: location.to_string(),
                detail: e.to_string(),
            })?;
        if index.format != FORMAT {
            return Err(UpdateError::BadIndex {
                location: location.to_string(),
                detail: format!(
                    "it is format {}, and this updater reads format {FORMAT}; update the updater",
                    index.format
                ),
            });
        }
        Ok(index)
    }

    /// Refuses an index past its expiry time (a freeze attack, or a forgotten republish).
    pub fn check_expiry(&self, location: &str, now: SystemTime) -> Result<(), UpdateError> {
        let expires = from_unix_seconds(self.expires);
        match now.duration_since(expires) {
            Ok(late) => Err(UpdateError::IndexExpired {
                location: location.to_string(),
                days_ago: late.as_secs() / 86_400,
            }),
            Err(_) => Ok(()),
        }
    }
}

/// Checks an index fetched from `location`: its signature against the trusted keys, its format,
/// its expiry and its serial.
pub fn verify(
    bytes: &[u8],
    signature_text: &str,
    trust: &trust::Trust,
    location: &str,
    now: SystemTime,
) -> Result<ReleaseIndex, UpdateError> {
    let key_id = signature::verify(bytes, signature_text, trust.keys(), location)?;
    let index = ReleaseIndex::parse(bytes, location)?;
    index.check_expiry(location, now)?;
    let identity = match &index.source {
        Some(source) => format!("key {key_id}, source {source}"),
        None => format!("key {key_id}"),
    };
    trust.check_serial(&identity, location, index.serial)?;
    Ok(index)
}
