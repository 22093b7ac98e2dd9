//! What a kit's archive installs, file by file, and how each file is known: from the signed
//! manifest when the source has one, else from the archive's own header, which records every
//! file's size and CRC32 (and is small, and read first). Everything an install does after this
//! (taking unchanged files from trees on disk, unpacking only the rest, checking each file,
//! switching to a kept tree) is the same for both.

use std::collections::HashSet;
use std::path::Path;

use sevenz_rust2::{Archive, Password};

use super::extract::{check_entry, describe};
use crate::archive::MEMORY_LIMIT_KB;
use crate::client::version_file;
pub use crate::digest::Check;
use crate::error::UpdateError;
use crate::index::FileEntry;
use crate::release::Kit;

/// One file of the archive, as the install wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Relative, `/`-separated.
    pub path: String,
    pub size: u64,
    pub check: Check,
}

/// The files a kit's archive installs, and those it may hold that the install writes itself (the
/// version files, and the kit's files beside the archive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KitFiles {
    pub files: Vec<Wanted>,
    pub written_by_install: Vec<Wanted>,
}

impl KitFiles {
    /// Every file the archive may hold, by path.
    pub fn listed(&self) -> std::collections::HashMap<&str, &Wanted> {
        self.files
            .iter()
            .chain(&self.written_by_install)
            .map(|w| (w.path.as_str(), w))
            .collect()
    }
}

impl KitFiles {
    /// From the signed manifest.
    pub fn from_manifest(kit: &Kit, manifest: &[FileEntry]) -> KitFiles {
        let written_later: HashSet<&str> = [version_file::VERSION_FILE, version_file::BUILD_FILE]
            .into_iter()
            .chain(kit.files.iter().map(|f| f.name))
            .collect();
        let (written_by_install, files) = manifest
            .iter()
            .map(|e| Wanted {
                path: e.path.clone(),
                size: e.size,
                check: Check::Sha256(e.sha256.clone()),
            })
            .partition(|w| written_later.contains(w.path.as_str()));
        KitFiles {
            files,
            written_by_install,
        }
    }

    /// From the header of the archive at `archive`, read within the reader's memory limit. An
    /// entry that an install would refuse (a link, a name outside the tree, a file named twice)
    /// refuses the kit here, before anything is written.
    pub fn from_archive(kit: &Kit, archive: &Path) -> Result<KitFiles, UpdateError> {
        let shown = archive.display().to_string();
        let mut file = crate::fsx::open_file(archive).map_err(UpdateError::io("open", archive))?;
        let contents =
            Archive::read_with_memory_limit(&mut file, &Password::empty(), MEMORY_LIMIT_KB)
                .map_err(|e| UpdateError::CorruptArchive {
                    path: shown.clone(),
                    detail: describe(&e),
                })?;
        // Version files the archive holds are unpacked, so that the check of the tree's
        // VERSION.txt sees what the kit says; the kit's files beside the archive replace theirs.
        let written_later: HashSet<&str> = kit.files.iter().map(|f| f.name).collect();
        let mut seen = HashSet::new();
        let (mut files, mut written_by_install) = (Vec::new(), Vec::new());
        for entry in &contents.files {
            let relative =
                check_entry(entry).map_err(|reason| UpdateError::UnsafeArchiveEntry {
                    archive: shown.clone(),
                    entry: entry.name.clone(),
                    reason,
                })?;
            if entry.is_directory {
                continue;
            }
            let path = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if !seen.insert(path.to_lowercase()) {
                return Err(UpdateError::UnsafeArchiveEntry {
                    archive: shown,
                    entry: entry.name.clone(),
                    reason: "a name the archive has already written",
                });
            }
            // An empty file has no stream, and so no CRC: the CRC32 of nothing is 0.
            let crc = match (entry.has_crc, entry.size) {
                (true, _) => u32::try_from(entry.crc).unwrap_or(u32::MAX),
                (false, 0) => 0,
                (false, _) => {
                    return Err(UpdateError::CorruptArchive {
                        path: shown,
                        detail: format!(
                            "it records no CRC for '{path}', so nothing could check it is unpacked right"
                        ),
                    });
                }
            };
            let wanted = Wanted {
                path,
                size: entry.size,
                check: Check::Crc32(crc),
            };
            if written_later.contains(wanted.path.as_str()) {
                written_by_install.push(wanted);
            } else {
                files.push(wanted);
            }
        }
        Ok(KitFiles {
            files,
            written_by_install,
        })
    }
}
