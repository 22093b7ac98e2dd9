//! What a release source publishes: release folders, and in each the kit of every component it
//! holds, with whether that kit may be installed.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::client::component::Component;
use crate::client::version::{ReleaseName, Version};

/// One release folder and the kits it holds.
#[derive(Debug, Clone)]
pub struct Release {
    pub name: ReleaseName,
    pub kits: Vec<Kit>,
}

impl Release {
    pub fn kit(&self, component: Component) -> Option<&Kit> {
        self.kits.iter().find(|k| k.component == component)
    }

    pub fn complete_kit(&self, component: Component) -> Option<&Kit> {
        self.kit(component).filter(|k| k.is_complete())
    }
}

/// One file of an unpacked kit, as a signed index lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Relative, with `/` separators.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// One component's kit inside a release.
#[derive(Debug, Clone)]
pub struct Kit {
    pub component: Component,
    pub release: ReleaseName,
    /// From the kit's VERSION.txt and BUILD_NUMBER.txt, when they could be read.
    pub version: Option<Version>,
    /// Where the archive is, as the source understands it (a path or a URL).
    pub archive: String,
    pub archive_size: Option<u64>,
    /// The archive's SHA-256 when the source vouches for one (a signed index does).
    pub sha256: Option<String>,
    pub status: KitStatus,
    /// Files beside the archive that are installed with it ([`Component::kit_files`]).
    pub files: Vec<KitFile>,
    /// Where the kit really is, when the release folder reaches it through a link (a partial
    /// release linking an older release's kit).
    pub linked_from: Option<String>,
    /// Every file of the unpacked kit with its size and SHA-256, when a signed index lists them:
    /// what lets an install take unchanged files from a tree it already has, and what every
    /// unpacked file is checked against.
    pub manifest: Option<ListedManifest>,
}

/// A kit's manifest as a signed index lists it: a file of its own (format 2), fetched and
/// checked only when a command needs the kit's files, or the files themselves (format 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListedManifest {
    File(ManifestRef),
    Inline(Arc<[FileEntry]>),
}

/// Where a kit's manifest is, and what it must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestRef {
    /// Relative to the index's folder, with `/` separators.
    pub path: String,
    /// Of the file as stored (compressed).
    pub size: u64,
    /// Of the file as stored.
    pub sha256: String,
    /// How many files it lists.
    pub files: u64,
}

/// Format 2 writes a manifest as a reference; format 1's inline manifests are read, never written.
impl Serialize for ListedManifest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ListedManifest::File(listed) => listed.serialize(serializer),
            ListedManifest::Inline(_) => Err(serde::ser::Error::custom(
                "a format 1 index's inline manifest is never written",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for ListedManifest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ManifestRef::deserialize(deserializer).map(ListedManifest::File)
    }
}

/// A file of the kit folder that is installed beside the unpacked archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KitFile {
    /// Its name in the kit folder, which is also its path in the installed tree.
    pub name: &'static str,
    /// Relative to the source's root, with `/` separators.
    pub path: String,
    pub size: u64,
    /// When the source vouches for it (a signed index lists it in the kit's manifest).
    pub sha256: Option<String>,
}

impl Kit {
    pub fn is_complete(&self) -> bool {
        self.status == KitStatus::Complete
    }
}

/// Whether a kit may be installed, and if not, why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KitStatus {
    Complete,
    /// COPY_COMPLETE.txt is missing: the copy onto the share never finished.
    NotCopyComplete,
    MissingArchive,
    MissingVersion,
    /// The share has a signed index, and it does not list this kit (at this version).
    NotInIndex,
    /// VERSION.txt names another release than the folder it sits in.
    VersionMismatch {
        actual: String,
    },
}

impl fmt::Display for KitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KitStatus::Complete => f.write_str("complete"),
            KitStatus::NotCopyComplete => f.write_str(
                "incomplete: COPY_COMPLETE.txt is missing, so the copy to the share did not finish",
            ),
            KitStatus::MissingArchive => f.write_str("incomplete: the archive is missing"),
            KitStatus::NotInIndex => f.write_str(
                "refused: the signed index does not list it at this version, so nothing vouches for it",
            ),
            KitStatus::MissingVersion => {
                f.write_str("incomplete: VERSION.txt is missing or unreadable")
            }
            KitStatus::VersionMismatch { actual } => {
                write!(
                    f,
                    "refused: its VERSION.txt says {actual}, which is not the release it sits in"
                )
            }
        }
    }
}
