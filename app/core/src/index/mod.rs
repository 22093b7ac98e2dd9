//! The signed release index: `index.json` beside a release share (or on its HTTP mirror), with
//! `index.json.minisig`, its minisign signature.
//!
//! Format 2, which `publish` writes, is small: for every release and complete kit it lists the
//! archive (path, size, SHA-256), the version, and the kit's file manifest by its own path, size
//! and SHA-256. The manifests are files of their own under `manifests/` (see [`manifest`]),
//! fetched and checked against the index only by the commands that need a kit's files, as TUF
//! splits targets metadata from the target files: the index of a share with years of releases
//! stays a few hundred kilobytes, and `status` reads nothing else. Format 1, which carried every
//! manifest inside the index, is still read ([`format1`]).
//!
//! A serial number that only increases and an expiry time guard against an attacker serving an
//! older (rollback) or a stale (freeze) index that was once validly signed ([`trust`]); a chain
//! of signed statements lets the release team move to a new key ([`rotation`]).

pub mod format1;
pub mod load;
pub mod manifest;
pub mod rotation;
pub mod signature;
pub mod trust;
pub mod validate;

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::client::component::Component;
use crate::client::version::{ReleaseName, Version};
use crate::clock::from_unix_seconds;
use crate::error::UpdateError;
pub use crate::release::{FileEntry, ListedManifest, ManifestRef};
use rotation::KeyRotation;

pub const INDEX_FILE: &str = "index.json";
pub const SIGNATURE_FILE: &str = "index.json.minisig";
/// The folder beside the index that holds the kits' manifests, each named by its SHA-256.
pub const MANIFESTS_DIR: &str = "manifests";
/// The format `publish` writes.
pub const FORMAT: u32 = 2;
/// Where the release team puts the updater's own builds: `Updater/<version>/<target>/ibex-updater[.exe]`.
pub const UPDATER_DIR: &str = "Updater";
/// The longest source id an index may carry.
const MAX_SOURCE_ID: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseIndex {
    /// 2 for an index read or written in format 2; 1 for one read in the old format.
    pub format: u32,
    /// Raised by every publish; the updater refuses an index older than one it has seen.
    pub serial: u64,
    /// Unix seconds.
    pub published: u64,
    /// Unix seconds; after this the index must be republished.
    pub expires: u64,
    /// Names the release source (`publish --source-id`): the memory of serials seen keeps the
    /// newest serial of each source id, wherever the index was fetched from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub releases: Vec<IndexRelease>,
    /// Builds of the updater itself, for `self-update`.
    #[serde(default)]
    pub updater: Vec<UpdaterBuild>,
    /// The release team's moves from one signing key to the next, oldest first, each signed by
    /// the key it retires.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rotations: Vec<KeyRotation>,
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
    /// As for [`ArchiveRef::modified_ns`]: what lets `publish` carry the build over unread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_ns: Option<u64>,
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
    /// The kit's full version, build included, e.g. `26.2.1.1302`.
    pub version: String,
    pub archive: ArchiveRef,
    /// Every file of the unpacked tree as the updater installs it.
    pub manifest: ListedManifest,
    /// The files beside the archive that are installed with it ([`Component::kit_files`]), as the
    /// manifest lists them: `publish` tells from these alone whether a kit it carries over
    /// still has the manifest it had.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kit_files: Vec<FileEntry>,
}

/// A kit's archive as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveRef {
    /// Relative to the share's root, with `/` separators.
    pub path: String,
    pub size: u64,
    pub sha256: String,
    /// The archive's modification time when it was read, in nanoseconds since the Unix epoch:
    /// with the size, what lets the next `publish` carry the kit over without reading it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_ns: Option<u64>,
}

impl ReleaseIndex {
    pub fn kit(&self, release: &str, component: Component) -> Option<&IndexKit> {
        self.releases
            .iter()
            .find(|r| r.name == release)
            .and_then(|r| r.kits.iter().find(|k| k.component == component))
    }

    /// The kit of `component` at exactly `version`, with its release's name.
    pub fn kit_at(&self, component: Component, version: &str) -> Option<(&str, &IndexKit)> {
        self.releases.iter().find_map(|r| {
            r.kits
                .iter()
                .find(|k| k.component == component && k.version == version)
                .map(|k| (r.name.as_str(), k))
        })
    }

    /// Parses an index in either format and checks every value in it ([`Self::validate`]).
    /// Parsing is safe on bytes whose signature is not checked yet (a rotation statement inside
    /// is what says which key to check it with).
    pub fn parse(bytes: &[u8], location: &str) -> Result<ReleaseIndex, UpdateError> {
        let bad = |detail: String| UpdateError::BadIndex {
            location: location.to_string(),
            detail: validate::printable(&detail),
        };
        #[derive(Deserialize)]
        struct Format {
            format: u32,
        }
        let format = serde_json::from_slice::<Format>(bytes)
            .map_err(|e| bad(e.to_string()))?
            .format;
        let index = match format {
            FORMAT => {
                serde_json::from_slice::<ReleaseIndex>(bytes).map_err(|e| bad(e.to_string()))?
            }
            format1::FORMAT => format1::parse(bytes).map_err(bad)?,
            other => {
                return Err(bad(format!(
                    "it is format {other}, and this updater reads formats 1 and {FORMAT}; update the updater"
                )));
            }
        };
        index.validate().map_err(bad)?;
        Ok(index)
    }

    /// The index as `publish` writes it.
    pub fn to_json(&self) -> Result<String, UpdateError> {
        serde_json::to_string_pretty(self)
            .map(|json| json + "\n")
            .map_err(|e| UpdateError::serialize(INDEX_FILE)(e.to_string()))
    }

    /// Checks every value that anything is done with: times a clock can hold, SHA-256s that are
    /// hex, paths that stay where they are meant to, versions and names that parse, no release
    /// or kit listed twice. Whoever signed it, an index that fails is refused whole.
    pub fn validate(&self) -> Result<(), String> {
        validate::serial(self.serial)?;
        validate::unix_time(self.published, "published")?;
        validate::unix_time(self.expires, "expires")?;
        if let Some(source) = &self.source
            && (source.is_empty()
                || source.len() > MAX_SOURCE_ID
                || source.chars().any(char::is_control))
        {
            return Err(format!(
                "the source id must be 1 to {MAX_SOURCE_ID} printable characters"
            ));
        }
        let mut names = std::collections::HashSet::new();
        for release in &self.releases {
            let name: ReleaseName = release
                .name
                .parse()
                .map_err(|e| format!("release '{}': {e}", release.name.escape_debug()))?;
            if !names.insert(name) {
                return Err(format!("release {} is listed twice", release.name));
            }
            for (n, kit) in release.kits.iter().enumerate() {
                if release.kits[..n]
                    .iter()
                    .any(|k| k.component == kit.component)
                {
                    return Err(format!(
                        "release {} lists {} twice",
                        release.name, kit.component
                    ));
                }
                kit.validate()
                    .map_err(|e| format!("release {}, {}: {e}", release.name, kit.component))?;
            }
        }
        for build in &self.updater {
            validate::source_path(&build.path)?;
            validate::sha256(&build.sha256)?;
            validate::relative_path(&build.target)
                .and_then(|()| semver::Version::parse(&build.version).map_err(|e| e.to_string()))
                .map_err(|e| format!("updater build {}: {e}", build.path))?;
        }
        for rotation in &self.rotations {
            rotation.validate()?;
        }
        Ok(())
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

impl IndexKit {
    fn validate(&self) -> Result<(), String> {
        self.version
            .parse::<Version>()
            .map_err(|e| format!("version: {e}"))?;
        validate::source_path(&self.archive.path)?;
        validate::sha256(&self.archive.sha256)?;
        match &self.manifest {
            ListedManifest::File(listed) => listed.validate()?,
            ListedManifest::Inline(files) => validate::file_set(files.iter())?,
        }
        for file in &self.kit_files {
            if !self.component.kit_files().contains(&file.path.as_str()) {
                return Err(format!(
                    "'{}' is not a kit file of {}",
                    file.path.escape_debug(),
                    self.component
                ));
            }
            validate::sha256(&file.sha256)?;
        }
        Ok(())
    }
}

impl ManifestRef {
    fn validate(&self) -> Result<(), String> {
        validate::source_path(&self.path)?;
        validate::sha256(&self.sha256)?;
        if self.size > crate::fsx::cap::MANIFEST {
            return Err(format!(
                "the manifest {} is listed at {} bytes, more than the {} a manifest may have",
                self.path,
                self.size,
                crate::fsx::cap::MANIFEST
            ));
        }
        if self.files > validate::MAX_FILES {
            return Err(format!(
                "the manifest {} lists {} files, more than the {} a kit may have",
                self.path,
                self.files,
                validate::MAX_FILES
            ));
        }
        Ok(())
    }
}
