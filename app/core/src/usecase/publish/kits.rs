//! Each complete kit of the share as the new index lists it: carried over from the previous
//! index without reading its archive when the archive's path, size and modification time are
//! what that index recorded, and read (hashed and listed in one pass) otherwise.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::previous::Previous;
use crate::client::version::Version;
use crate::digest;
use crate::error::UpdateError;
use crate::index::manifest::{self, Scanned};
use crate::index::{ArchiveRef, FileEntry, IndexKit, ListedManifest};
use crate::release::Kit;

/// How a kit got into the new index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HowListed {
    /// Taken from the previous index; its archive was not read.
    Carried,
    /// Read: not in the previous index.
    New,
    /// Read: the previous index lists another archive, size, time or version for it.
    Changed { was: String },
}

/// A kit as the new index lists it, and the manifest file it needs written (when it has a new one).
#[derive(Debug)]
pub struct Listed {
    pub kit: IndexKit,
    pub how: HowListed,
    pub new_manifest: Option<Vec<u8>>,
    /// Bytes read from the archive.
    pub bytes_read: u64,
}

/// The share's `kit` (of a release named `release`), as the new index lists it.
pub fn list(
    share: &Path,
    kit: &Kit,
    version: &Version,
    release: &str,
    previous: Option<&Previous>,
) -> Result<Listed, UpdateError> {
    let archive = PathBuf::from(&kit.archive);
    let path = relative(share, &archive);
    let meta = fs::metadata(&archive).map_err(UpdateError::io("inspect", &archive))?;
    let modified_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| u64::try_from(d.as_nanos()).ok());
    let kit_files = kit_files(share, kit)?;
    let before = previous.and_then(|p| p.index.kit(release, kit.component).map(|k| (p, k)));
    let was = match before {
        Some((previous, before))
            if before.archive.path == path
                && before.archive.size == meta.len()
                && before.archive.modified_ns.is_some()
                && before.archive.modified_ns == modified_ns
                && before.version == version.to_string() =>
        {
            if let Some(carried) = carry(previous, before, &kit_files)? {
                return Ok(carried);
            }
            None
        }
        Some((_, before)) => Some(format!(
            "{} bytes, version {}{}",
            before.archive.size,
            before.version,
            if before.archive.path == path {
                String::new()
            } else {
                format!(", at {}", before.archive.path)
            }
        )),
        None => None,
    };
    tracing::info!("reading {}", archive.display());
    let named: Vec<(&str, PathBuf)> = kit
        .files
        .iter()
        .map(|f| (f.name, share.join(&f.path)))
        .collect();
    let Scanned {
        size,
        sha256,
        files,
        bytes_read,
    } = manifest::of_kit(&archive, version, &named)?;
    let (bytes, listed) = manifest::encode(&files)?;
    Ok(Listed {
        kit: IndexKit {
            component: kit.component,
            version: version.to_string(),
            archive: ArchiveRef {
                path,
                size,
                sha256,
                modified_ns,
            },
            manifest: ListedManifest::File(listed),
            kit_files,
        },
        how: match was {
            Some(was) => HowListed::Changed { was },
            None => HowListed::New,
        },
        new_manifest: Some(bytes),
        bytes_read,
    })
}

/// The kit as the previous index lists it, with its kit files as they are now: the same manifest
/// file when they have not changed, else its manifest with theirs put in. `None` when the
/// previous manifest is not there to carry over.
fn carry(
    previous: &Previous,
    before: &IndexKit,
    kit_files: &[FileEntry],
) -> Result<Option<Listed>, UpdateError> {
    let mut kit = before.clone();
    kit.kit_files = kit_files.to_vec();
    let carried = |kit, new_manifest| {
        Some(Listed {
            kit,
            how: HowListed::Carried,
            new_manifest,
            bytes_read: 0,
        })
    };
    let present = match &before.manifest {
        ListedManifest::File(listed) => previous.has_manifest_file(listed),
        ListedManifest::Inline(_) => false,
    };
    if present && before.kit_files == kit_files {
        return Ok(carried(kit, None));
    }
    // A kit file added or gone changes what the archive itself leaves in the tree: read it again.
    let names = |files: &[FileEntry]| files.iter().map(|f| f.path.clone()).collect::<Vec<_>>();
    if !present || names(&before.kit_files) != names(kit_files) {
        return Ok(None);
    }
    let mut files: Vec<FileEntry> = previous
        .manifest(&before.manifest)?
        .into_iter()
        .filter(|f| !before.component.kit_files().contains(&f.path.as_str()))
        .chain(kit_files.iter().cloned())
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let (bytes, listed) = manifest::encode(&files)?;
    kit.manifest = ListedManifest::File(listed);
    Ok(carried(kit, Some(bytes)))
}

/// The kit's files beside its archive, hashed now: they are small.
fn kit_files(share: &Path, kit: &Kit) -> Result<Vec<FileEntry>, UpdateError> {
    kit.files
        .iter()
        .map(|f| {
            let (size, sha256) = digest::of_file(&share.join(&f.path))?;
            Ok(FileEntry {
                path: f.name.to_string(),
                size,
                sha256,
            })
        })
        .collect()
}

/// `path` relative to the share, with `/` separators.
pub fn relative(share: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(share).unwrap_or(path);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
