//! The release share: one folder per release, laid out as the release build writes it.
//!
//! ```text
//! <root>/<X.Y.Z>[-suffix]/Client/{Client/VERSION.txt, zips/Client.7z, COPY_COMPLETE.txt}
//! <root>/<X.Y.Z>[-suffix]/genie_python_3/{VERSION.txt, zips/Python.7z, COPY_COMPLETE.txt}
//! <root>/<X.Y.Z>[-suffix]/RELEASE_NOTES.md   (optional)
//! ```

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::component::Component;
use crate::error::UpdateError;
use crate::source::{ArchiveStream, Kit, KitStatus, Release, ReleaseSource};
use crate::version::{ClientVersion, ReleaseName};
use crate::version_file;

/// Written last by the release build: a kit without it was not fully copied.
pub const COPY_COMPLETE: &str = "COPY_COMPLETE.txt";

/// Optional Markdown notes in a release folder, shown by the window.
pub const RELEASE_NOTES: &str = "RELEASE_NOTES.md";

#[derive(Debug, Clone)]
pub struct ShareSource {
    root: PathBuf,
}

impl ShareSource {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ShareSource { root: root.into() }
    }

    fn unreachable(&self) -> impl FnOnce(std::io::Error) -> UpdateError + '_ {
        move |source| UpdateError::SourceUnreachable {
            location: self.root.display().to_string(),
            source,
        }
    }

    fn read_kit(&self, release: &ReleaseName, component: Component) -> Option<Kit> {
        let kit_dir = self
            .root
            .join(release.to_string())
            .join(component.kit_dir());
        if !kit_dir.is_dir() {
            return None;
        }
        let archive = kit_dir.join(component.archive_path());
        let archive_size = fs::metadata(&archive)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let version = version_file::read(&kit_dir.join(component.version_dir()));
        let (version, status) = match version {
            Ok(Some(ClientVersion::Release(v))) if v.same_release(&release.version) => {
                (Some(v), KitStatus::Complete)
            }
            Ok(Some(other)) => (
                None,
                KitStatus::VersionMismatch {
                    actual: other.to_string(),
                },
            ),
            Ok(None) | Err(_) => (None, KitStatus::MissingVersion),
        };
        let status = if !kit_dir.join(COPY_COMPLETE).is_file() {
            KitStatus::NotCopyComplete
        } else if archive_size.is_none() {
            KitStatus::MissingArchive
        } else {
            status
        };
        Some(Kit {
            component,
            release: release.clone(),
            version,
            archive: archive.display().to_string(),
            archive_size,
            sha256: None,
            status,
        })
    }
}

impl ReleaseSource for ShareSource {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn releases(&self) -> Result<Vec<Release>, UpdateError> {
        let mut releases = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(self.unreachable())? {
            let entry = entry.map_err(self.unreachable())?;
            let Some(name) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<ReleaseName>().ok())
            else {
                continue;
            };
            if !entry.path().is_dir() {
                continue;
            }
            let kits = Component::ALL
                .into_iter()
                .filter_map(|component| self.read_kit(&name, component))
                .collect();
            releases.push(Release { name, kits });
        }
        releases.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(releases)
    }

    fn open_archive(&self, kit: &Kit) -> Result<ArchiveStream, UpdateError> {
        let path = Path::new(&kit.archive);
        let file = File::open(path).map_err(self.unreachable())?;
        let len = file.metadata().map_err(self.unreachable())?.len();
        Ok(ArchiveStream {
            reader: Box::new(file),
            len: Some(len),
        })
    }

    fn release_notes(&self, release: &ReleaseName) -> Option<String> {
        let path = self.root.join(release.to_string()).join(RELEASE_NOTES);
        fs::read_to_string(path).ok()
    }
}
