//! Staging a kit that the signed index lists file by file: taken from a tree already on disk
//! where its files are unchanged (or swapped in whole when a kept tree holds its version), and
//! otherwise unpacked in part from the archive where it lies.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::reuse::{self, Base};
use super::unpack_listed::{self, Unpacked};
use super::{FilesStaged, InstallOptions, InstallRoot, checkpoint, fixups, journal, tree_record};
use crate::client::component::Component;
use crate::client::version::{ClientVersion, Version};
use crate::client::version_file;
use crate::error::UpdateError;
use crate::fsx::{self, Syncer};
use crate::index::FileEntry;
use crate::progress::{Progress, Stage};
use crate::release::Kit;
use crate::source::ReleaseSource;

/// The manifest's files that come out of the archive: all but the version files and the kit files,
/// which the install writes itself.
pub(super) fn from_archive<'a>(kit: &Kit, manifest: &'a [FileEntry]) -> Vec<&'a FileEntry> {
    let written_later: HashSet<&str> = [version_file::VERSION_FILE, version_file::BUILD_FILE]
        .into_iter()
        .chain(kit.files.iter().map(|f| f.name))
        .collect();
    manifest
        .iter()
        .filter(|e| !written_later.contains(e.path.as_str()))
        .collect()
}

/// Stages the archive's files of a kit the signed index lists file by file: those unchanged in a
/// tree already on disk are taken from it, and only the rest are unpacked, from the archive where
/// it lies when the source has it locally (a share, or the download cache), so the archive itself
/// is never copied.
#[allow(clippy::too_many_arguments)]
pub(super) fn stage_changed_files(
    root: &InstallRoot,
    source: &dyn ReleaseSource,
    kit: &Kit,
    version: &Version,
    manifest: &[FileEntry],
    from_archive: &[&FileEntry],
    tree: &Path,
    tx_dir: &Path,
    progress: &dyn Progress,
    syncer: Option<&Syncer>,
) -> Result<FilesStaged, UpdateError> {
    let component = kit.component;
    let taken = reuse::take_unchanged(from_archive, &bases(root, component, version), tree)?;
    let listed: HashMap<&str, &FileEntry> = manifest.iter().map(|e| (e.path.as_str(), e)).collect();
    let needed: HashSet<&str> = from_archive
        .iter()
        .map(|e| e.path.as_str())
        .filter(|p| !taken.paths.contains(*p))
        .collect();
    let mut staged = FilesStaged {
        switched: false,
        linked: taken.linked,
        copied: taken.copied,
        taken_bytes: taken.bytes,
        unpacked: Unpacked::default(),
    };
    progress.stage(component, Stage::Download, kit.archive_size);
    if needed.is_empty() {
        checkpoint::reach(&format!("staged:{}", component.id()))?;
        return Ok(staged);
    }
    let (archive, fetched) = match source.local_archive(kit, progress)? {
        Some(path) => (path, false),
        None => {
            let path = tx_dir.join(format!("{}.7z", component.id()));
            source.fetch(kit, &path, progress)?;
            (path, true)
        }
    };
    checkpoint::reach(&format!("staged:{}", component.id()))?;
    staged.unpacked = unpack_listed::unpack_listed(
        &archive, tree, &listed, &needed, component, progress, syncer,
    )?;
    if fetched {
        fsx::remove_file(&archive)?;
    }
    Ok(staged)
}

/// A tree kept on this machine that holds `kit`'s version as it was installed (every file of the
/// signed manifest unchanged, but the GUI's own state), so that installing it is a swap.
pub(super) fn kept_tree(
    root: &InstallRoot,
    kit: &Kit,
    manifest: Option<&[FileEntry]>,
) -> Option<PathBuf> {
    let manifest = manifest?;
    let wanted = Some(ClientVersion::Release(kit.version.clone()?));
    // A reinstall of the installed version is asked for when that tree is suspect: never a swap.
    if version_file::installed(&root.component_dir(kit.component)) == wanted {
        return None;
    }
    let expected = from_archive(kit, manifest);
    kept_trees(root, kit.component).into_iter().find(|tree| {
        version_file::installed(tree) == wanted
            && tree_record::holds(tree, &expected, reuse::is_gui_state)
            && fixups::writes_stay_inside(tree)
    })
}

/// Installs a kept tree: the user's GUI state is carried into it, as into a new one, and the
/// swap takes it from where it is kept.
pub(super) fn switch_to(
    root: &InstallRoot,
    kit: &Kit,
    tree: PathBuf,
    options: &InstallOptions,
) -> Result<(PathBuf, String, Option<FilesStaged>), UpdateError> {
    tracing::info!(
        "{} {} is kept at {}: switching to it",
        kit.component,
        kit.release,
        tree.display()
    );
    fixups::apply_to_kept(
        kit.component,
        &tree,
        &root.component_dir(kit.component),
        &options.hostname,
    )?;
    let switched = FilesStaged {
        switched: true,
        ..FilesStaged::default()
    };
    Ok((tree, kit.sha256.clone().unwrap_or_default(), Some(switched)))
}

/// The trees of `component` kept besides the installed one: the one `rollback` restores, then the
/// older ones kept for switching, newest first.
fn kept_trees(root: &InstallRoot, component: Component) -> Vec<PathBuf> {
    let older = journal::kept_trees(&root.kept_dir(component));
    std::iter::once(root.previous_dir(component))
        .chain(older.into_iter().rev().map(|(_, path)| path))
        .filter(|tree| tree.is_dir())
        .collect()
}

/// The trees an install may take unchanged files from: the installed one and those kept. One of
/// the version being installed is read and checked file by file, since a reinstall is asked for
/// when that tree is suspect.
fn bases(root: &InstallRoot, component: Component, version: &Version) -> Vec<Base> {
    let same = Some(ClientVersion::Release(version.clone()));
    std::iter::once(root.component_dir(component))
        .chain(kept_trees(root, component))
        .filter(|tree| tree.is_dir())
        .map(|tree| Base {
            check_content: version_file::installed(&tree) == same,
            tree,
        })
        .collect()
}
