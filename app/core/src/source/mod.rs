//! Where releases come from. The release share is one source; the HTTP mirror plugs in beside it
//! through the same [`ReleaseSource`] trait.

mod copy;
pub mod download;
pub mod http;
pub mod share;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use copy::copy_and_hash;
pub use share::ShareSource;

use crate::catalog::Catalog;
use crate::client::version::ReleaseName;
use crate::error::UpdateError;
use crate::index::load::MetadataRead;
use crate::index::manifest;
use crate::progress::{NoProgress, Progress};
use crate::release::{FileEntry, Kit, KitFile, ListedManifest};

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

/// The manifest a signed index lists for a kit, fetched from `source` and checked when it is a
/// file of its own (format 2).
pub fn manifest(
    source: &dyn ReleaseSource,
    listed: &ListedManifest,
) -> Result<Arc<[FileEntry]>, UpdateError> {
    manifest::fetch(source, &source.location(), listed)
}

/// A place that publishes IBEX releases, and its signed metadata.
pub trait ReleaseSource: MetadataRead + Send + Sync + fmt::Debug {
    /// For messages: the share's path or the mirror's URL.
    fn location(&self) -> String;

    /// Reads the source's releases, and its signed index if it has one (verified: signature,
    /// expiry, serial). Callers read it once per run and answer every question from it.
    fn read_catalog(&self) -> Result<Catalog, UpdateError>;

    /// The kit's archive as a local file that an install reads in place: the archive on a
    /// share, or a mirror's verified download in the cache (downloaded now if it is not there,
    /// reporting the download stage's bytes). Only the parts an install needs are read, and the
    /// archive is never copied.
    fn local_archive(&self, kit: &Kit, progress: &dyn Progress) -> Result<PathBuf, UpdateError>;

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

    /// Puts a file of the kit folder at `dest`, checked against the size and SHA-256 the source
    /// vouches for. Only a share read without a signed index (allowed by the policy) may copy
    /// one that nothing vouches for.
    fn fetch_kit_file(&self, file: &KitFile, dest: &Path) -> Result<(), UpdateError> {
        let Some(sha256) = &file.sha256 else {
            return Err(UpdateError::UnsignedSource {
                location: self.location(),
                policy: crate::config::policy::Policy::path(),
            });
        };
        self.fetch_file(&file.path, file.size, sha256, dest, &NoProgress)
    }

    /// After an install that used the archives with these SHA-256s: let any cache the source
    /// keeps go of what no install or rollback will want.
    fn prune_cache(&self, _in_use: &[String]) {}

    /// The release's notes in Markdown, when the source publishes them.
    fn release_notes(&self, release: &ReleaseName) -> Option<String>;
}
