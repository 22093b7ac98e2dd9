//! Where releases come from. The release share is one source; the HTTP mirror plugs in beside it
//! through the same [`ReleaseSource`] trait.

pub mod download;
pub mod http;
mod select;
pub mod share;

use std::fmt;
use std::io::Read;
use std::path::Path;

pub use select::{TargetRequest, select_target};
pub use share::ShareSource;

use crate::component::Component;
use crate::error::UpdateError;
use crate::index::ReleaseIndex;
use crate::progress::Progress;
use crate::version::{ReleaseName, Version};

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

/// An archive being read from a source.
pub struct ArchiveStream {
    pub reader: Box<dyn Read + Send>,
    /// The length when the source knows it, for progress and for spotting truncation.
    pub len: Option<u64>,
}

impl fmt::Debug for ArchiveStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArchiveStream")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// What vouches for a source's kits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// A signed index, checked: its serial and expiry (unix seconds).
    Signed { serial: u64, expires: u64 },
    /// No index: nothing but the source's own files says what a kit should be.
    Unverified,
}

impl Verification {
    pub fn of(index: Option<&ReleaseIndex>) -> Result<Verification, UpdateError> {
        Ok(
            index.map_or(Verification::Unverified, |i| Verification::Signed {
                serial: i.serial,
                expires: i.expires,
            }),
        )
    }
}

/// A place that publishes IBEX releases.
pub trait ReleaseSource: Send + Sync + fmt::Debug {
    /// For messages: the share's path or the mirror's URL.
    fn location(&self) -> String;

    /// Every release folder the source holds, oldest first.
    fn releases(&self) -> Result<Vec<Release>, UpdateError>;

    /// Opens a kit's archive for reading.
    fn open_archive(&self, kit: &Kit) -> Result<ArchiveStream, UpdateError>;

    /// Puts a kit's archive at `dest` (reporting the download stage's bytes), checked against the
    /// size and SHA-256 the source vouches for, and returns its SHA-256. By default a copy of
    /// [`Self::open_archive`], hashed in the same pass.
    fn fetch(
        &self,
        kit: &Kit,
        dest: &Path,
        progress: &dyn Progress,
    ) -> Result<String, UpdateError> {
        crate::install::stage::copy_and_hash(
            self.open_archive(kit)?,
            &kit.archive,
            dest,
            kit.archive_size,
            kit.sha256.as_deref(),
            progress,
        )
    }

    /// Puts the file at `path` (relative to the source, `/`-separated) at `dest`, checked against
    /// `size` and `sha256`.
    fn fetch_file(
        &self,
        path: &str,
        size: u64,
        sha256: &str,
        dest: &Path,
        progress: &dyn Progress,
    ) -> Result<(), UpdateError>;

    /// The release's notes in Markdown, when the source publishes them.
    fn release_notes(&self, release: &ReleaseName) -> Option<String>;

    /// The source's signed index, verified, when it has one.
    fn index(&self) -> Result<Option<ReleaseIndex>, UpdateError> {
        Ok(None)
    }

    /// What vouches for the source's kits, for the output to say.
    fn verification(&self) -> Result<Verification, UpdateError> {
        Ok(Verification::Unverified)
    }
}
