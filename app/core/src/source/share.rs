//! The release share: one folder per release, laid out as the release build writes it.
//!
//! ```text
//! <root>/<X.Y.Z>[-suffix]/Client/{Client/VERSION.txt, zips/Client.7z, COPY_COMPLETE.txt}
//! <root>/<X.Y.Z>[-suffix]/genie_python_3/{VERSION.txt, zips/Python.7z, COPY_COMPLETE.txt}
//! <root>/<X.Y.Z>[-suffix]/RELEASE_NOTES.md   (optional)
//! ```
//!
//! A partial release may reach an older release's kit through a symlink or a Windows junction:
//! links are followed here (never when unpacking archives), and such a kit is that older
//! release's, with its version, and says where it really is.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use std::time::{Duration, SystemTime};

use crate::catalog::Catalog;
use crate::client::component::Component;
use crate::client::version::{ClientVersion, ReleaseName};
use crate::client::{ipython_profile, version_file};
use crate::clock;
use crate::error::UpdateError;
use crate::fsx;
use crate::index::load::MetadataRead;
use crate::index::trust::Trust;
use crate::index::{self, ReleaseIndex};
use crate::progress::{NoProgress, Progress};
use crate::release::{Kit, KitFile, KitStatus, Release};
use crate::source::{ArchiveStream, ReleaseSource};

/// Written last by the release build: a kit without it was not fully copied.
pub const COPY_COMPLETE: &str = "COPY_COMPLETE.txt";

/// Optional Markdown notes in a release folder, shown by the window.
pub const RELEASE_NOTES: &str = "RELEASE_NOTES.md";

#[derive(Debug, Clone)]
pub struct ShareSource {
    root: PathBuf,
    /// With trust, an `index.json` beside the releases must verify, and the archives must match
    /// it. Without, the share is read as it is (for publishing it).
    trust: Option<Trust>,
}

impl ShareSource {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ShareSource {
            root: root.into(),
            trust: None,
        }
    }

    pub fn with_trust(mut self, trust: Trust) -> Self {
        self.trust = Some(trust);
        self
    }

    /// The folder of `release` as it is named on disk (`25.02.0` for 25.2.0), or by its name.
    fn release_dir(&self, release: &ReleaseName) -> PathBuf {
        let found = fs::read_dir(&self.root).ok().and_then(|entries| {
            entries.flatten().find(|entry| {
                entry
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse::<ReleaseName>().ok())
                    .is_some_and(|name| &name == release)
            })
        });
        found.map_or_else(|| self.root.join(release.to_string()), |entry| entry.path())
    }

    /// The share's signed index, verified (signature, format, expiry, serial), if it has one.
    fn read_index(&self) -> Result<Option<ReleaseIndex>, UpdateError> {
        match &self.trust {
            Some(trust) => index::load::load(self, &self.location(), trust, SystemTime::now()),
            None => Ok(None),
        }
    }

    fn unreachable(&self) -> impl FnOnce(std::io::Error) -> UpdateError + '_ {
        move |cause| UpdateError::SourceUnreachable {
            location: self.root.display().to_string(),
            cause,
        }
    }

    /// The kit of `component` in the release folder `dir` (named as on disk, which may be
    /// zero-padded: `25.02.0` is release 25.2.0).
    fn read_kit(&self, release: &ReleaseName, dir: &Path, component: Component) -> Option<Kit> {
        let kit_dir = dir.join(component.kit_dir());
        if !kit_dir.is_dir() {
            return None;
        }
        let linked = self.link_target(dir, &kit_dir);
        // A linked kit must be the release it links to, which is older than this one.
        let expected = linked
            .as_ref()
            .and_then(|(_, release)| release.clone())
            .unwrap_or_else(|| release.clone());
        let archive = kit_dir.join(component.archive_path());
        let archive_size = fs::metadata(&archive)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let version = version_file::read(&kit_dir.join(component.version_dir()));
        let (version, status) = match version {
            Ok(Some(ClientVersion::Release(v))) if v.same_release(&expected.version) => {
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
            files: kit_files(dir, component),
            linked_from: linked.map(|(path, _)| shown(&path)),
            manifest: None,
        })
    }

    /// Where `kit_dir` really is, when a link inside the share leads elsewhere, with the
    /// release folder it lies in (if it lies in one).
    fn link_target(&self, dir: &Path, kit_dir: &Path) -> Option<(PathBuf, Option<ReleaseName>)> {
        let real = fs::canonicalize(kit_dir).ok()?;
        let nominal = fs::canonicalize(&self.root)
            .ok()?
            .join(dir.file_name()?)
            .join(kit_dir.file_name()?);
        if real == nominal {
            return None;
        }
        let release = real
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<ReleaseName>().ok());
        Some((real, release))
    }
}

/// The component's kit files present in its kit folder under the release folder `dir`. Their
/// sizes are read now; a file larger than any such file is, or not a file, is left out.
fn kit_files(dir: &Path, component: Component) -> Vec<KitFile> {
    let Some(release_dir) = dir.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    component
        .kit_files()
        .iter()
        .filter_map(|&name| {
            let path = dir.join(component.kit_dir()).join(name);
            let meta = fs::metadata(&path).ok().filter(|m| m.is_file())?;
            if meta.len() > ipython_profile::CONFIG_CAP {
                tracing::warn!("leaving out {}: it is too large", path.display());
                return None;
            }
            Some(KitFile {
                name,
                path: format!("{release_dir}/{}/{name}", component.kit_dir()),
                size: meta.len(),
                sha256: None,
            })
        })
        .collect()
}

/// The release share that `dir`, which holds no release folder, is near: the share root above
/// `Releases`, one release folder, or a kit folder inside one.
fn near_miss(dir: &Path) -> Option<PathBuf> {
    let holds_releases = |candidate: &Path| {
        fs::read_dir(candidate).ok().is_some_and(|entries| {
            entries.flatten().any(|e| {
                e.path().is_dir()
                    && e.file_name()
                        .to_str()
                        .is_some_and(|n| n.parse::<ReleaseName>().is_ok())
            })
        })
    };
    let below = dir.join("Releases");
    let parent = dir.parent();
    let grandparent = parent.and_then(Path::parent);
    [Some(below.as_path()), parent, grandparent]
        .into_iter()
        .flatten()
        .find(|candidate| holds_releases(candidate))
        .map(Path::to_path_buf)
}

/// A path for people: without the `\\?\` prefix that canonical paths carry on Windows.
fn shown(path: &Path) -> String {
    let text = path.display().to_string();
    match text.strip_prefix(r"\\?\UNC\") {
        Some(unc) => format!(r"\\{unc}"),
        None => text.strip_prefix(r"\\?\").unwrap_or(&text).to_string(),
    }
}

/// Takes a kit's size and SHA-256 from the signed index, which the copy then checks; a kit the
/// index does not list (or lists as another version) is not installable.
fn vouch(mut kit: Kit, index: &ReleaseIndex) -> Kit {
    if !kit.is_complete() {
        return kit;
    }
    let listed = index
        .kit(&kit.release.to_string(), kit.component)
        .filter(|k| {
            kit.version
                .as_ref()
                .is_some_and(|v| v.to_string() == k.version)
        });
    match listed {
        Some(listed) => {
            kit.sha256 = Some(listed.archive.sha256.clone());
            kit.manifest = Some(listed.manifest.clone());
            kit.archive_size = Some(listed.archive.size);
            kit.files.retain_mut(|file| {
                let entry = listed.kit_files.iter().find(|f| f.path == file.name);
                match entry {
                    Some(entry) => {
                        file.size = entry.size;
                        file.sha256 = Some(entry.sha256.clone());
                    }
                    None => tracing::warn!(
                        "not installing {}: the signed index does not list it",
                        file.path
                    ),
                }
                entry.is_some()
            });
        }
        None => kit.status = KitStatus::NotInIndex,
    }
    kit
}

impl MetadataRead for ShareSource {
    fn read_metadata(
        &self,
        path: &str,
        cap: u64,
        wait: Duration,
    ) -> Result<Option<Vec<u8>>, UpdateError> {
        let full = self.root.join(path);
        let deadline = clock::deadline(wait);
        let read = fsx::open_regular(&full).and_then(|file| {
            file.map(|f| fsx::read_within(f, cap.saturating_add(1), deadline))
                .transpose()
        });
        match read {
            Ok(bytes) => {
                if let Some(bytes) = &bytes {
                    tracing::debug!("{path}: read {} bytes of signed metadata", bytes.len());
                }
                Ok(bytes)
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                Err(UpdateError::MetadataTooSlow {
                    url: full.display().to_string(),
                    seconds: wait.as_secs(),
                })
            }
            Err(e) => Err(UpdateError::SourceUnreachable {
                location: full.display().to_string(),
                cause: e,
            }),
        }
    }

    fn metadata_wait(&self, size: u64) -> Duration {
        metadata_wait(SHARE_METADATA_WAIT, size)
    }
}

/// How long signed metadata on a share may take to read, before its size is counted: a share
/// answers in milliseconds, and a stalled one should not hold a command for ever.
const SHARE_METADATA_WAIT: Duration = Duration::from_secs(60);

/// `base`, plus the time `size` bytes take at 64 KiB/s: what a slow but working link gives.
pub(crate) fn metadata_wait(base: Duration, size: u64) -> Duration {
    base.saturating_add(Duration::from_secs(size / (64 << 10)))
}

impl ReleaseSource for ShareSource {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn read_catalog(&self) -> Result<Catalog, UpdateError> {
        // A share that cannot be listed is unreachable, whatever its index would have said.
        let listing = fs::read_dir(&self.root).map_err(self.unreachable())?;
        let index = self.read_index()?;
        let mut releases = Vec::new();
        for entry in listing {
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
                .filter_map(|component| self.read_kit(&name, &entry.path(), component))
                .map(|kit| match &index {
                    Some(index) => vouch(kit, index),
                    None => kit,
                })
                .collect();
            releases.push(Release { name, kits });
        }
        if releases.is_empty()
            && let Some(suggestion) = near_miss(&self.root)
        {
            return Err(UpdateError::NotAReleaseShare {
                location: self.location(),
                suggestion,
            });
        }
        releases.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(match index {
            Some(index) => Catalog::signed(self.location(), index, releases),
            // Read without trust, to publish it, the share is taken as it is.
            None => {
                let seen = match &self.trust {
                    Some(trust) => trust.seen_serial(&self.location())?,
                    None => None,
                };
                match seen {
                    Some(serial) => Catalog::index_gone(self.location(), releases, serial),
                    None => {
                        let allowed = self.trust.as_ref().is_none_or(|t| t.allow_unsigned);
                        Catalog::unverified(self.location(), releases, allowed)
                    }
                }
            }
        })
    }

    fn local_archive(&self, kit: &Kit, _progress: &dyn Progress) -> Result<PathBuf, UpdateError> {
        Ok(PathBuf::from(&kit.archive))
    }

    fn fetch_file(
        &self,
        path: &str,
        size: u64,
        sha256: &str,
        dest: &Path,
        progress: &dyn Progress,
    ) -> Result<(), UpdateError> {
        let source = self.root.join(path);
        let file = fsx::open_file(&source).map_err(self.unreachable())?;
        let stream = ArchiveStream {
            reader: Box::new(file),
            len: None,
        };
        let shown = source.display().to_string();
        super::copy_and_hash(stream, &shown, dest, Some(size), Some(sha256), progress).map(drop)
    }

    fn fetch_kit_file(&self, file: &KitFile, dest: &Path) -> Result<(), UpdateError> {
        let source = self.root.join(&file.path);
        let opened = fsx::open_file(&source).map_err(self.unreachable())?;
        // A file that grew past the size listed is cut one byte beyond it, and refused.
        let stream = ArchiveStream {
            reader: Box::new(opened.take(file.size.saturating_add(1))),
            len: None,
        };
        let shown = source.display().to_string();
        let sha256 = file.sha256.as_deref();
        super::copy_and_hash(stream, &shown, dest, Some(file.size), sha256, &NoProgress).map(drop)
    }

    fn release_notes(&self, release: &ReleaseName) -> Option<String> {
        let path = self.release_dir(release).join(RELEASE_NOTES);
        match fsx::read_file_capped(&path, fsx::cap::NOTES) {
            Ok(notes) => notes.map(|b| String::from_utf8_lossy(&b).into_owned()),
            Err(e) => {
                tracing::warn!("not showing the release notes: {e}");
                None
            }
        }
    }
}

// The one test reads /dev/zero through a link.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn kit_files_that_are_too_large_or_not_files_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let kit = dir.path().join("26.2.0").join("genie_python_3");
        fs::create_dir_all(&kit).unwrap();
        let release = dir.path().join("26.2.0");
        std::os::unix::fs::symlink("/dev/zero", kit.join("ipython_config.py")).unwrap();
        assert!(kit_files(&release, Component::GeniePython).is_empty());
        fsx::remove_file(&kit.join("ipython_config.py")).unwrap();
        let big = vec![b'#'; usize::try_from(ipython_profile::CONFIG_CAP).unwrap() + 1];
        fs::write(kit.join("ipython_config.py"), big).unwrap();
        assert!(kit_files(&release, Component::GeniePython).is_empty());
        fs::write(kit.join("ipython_config.py"), "c = get_config()\n").unwrap();
        assert_eq!(kit_files(&release, Component::GeniePython).len(), 1);
    }

    #[test]
    fn endless_release_notes_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let release: ReleaseName = "26.2.0".parse().unwrap();
        fs::create_dir_all(dir.path().join("26.2.0")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("26.2.0").join(RELEASE_NOTES))
            .unwrap();
        assert_eq!(ShareSource::new(dir.path()).release_notes(&release), None);
    }
}
