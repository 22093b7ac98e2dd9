//! Staging a kit, the one way for every source, signed or not: its files (from the signed
//! manifest, else from the archive's header) are taken from a tree already on disk where one
//! holds them, proven by hashing them now, and only the rest are unpacked, from the archive where
//! it lies (on the share, or a mirror's verified download in the cache), so that the archive is
//! never copied. When a kept tree holds the whole version, installing it is a swap.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use super::kit_files::{KitFiles, Wanted};
use super::reuse;
use super::unpack_listed::{self, Unpacked};
use super::{FilesStaged, InstallOptions, InstallRoot, checkpoint, fixups, journal};
use crate::client::component::Component;
use crate::client::version::ClientVersion;
use crate::client::version_file;
use crate::digest::Sums;
use crate::error::UpdateError;
use crate::fsx::{self, Durable};
use crate::progress::{Progress, Stage};
use crate::release::Kit;
use crate::source::ReleaseSource;
use crate::worker;

/// What staging wrote, and both sums of every file it put in the tree.
#[derive(Debug)]
pub(super) struct Staged {
    pub files: FilesStaged,
    pub sums: HashMap<String, Sums>,
}

/// Stages the archive's files of `kit` into `tree`: those a tree on disk holds are taken from
/// it, and only the rest are unpacked, from the archive where it lies.
#[allow(clippy::too_many_arguments)]
pub(super) fn stage_files(
    root: &InstallRoot,
    source: &dyn ReleaseSource,
    kit: &Kit,
    files: &KitFiles,
    archive: Option<PathBuf>,
    tree: &Path,
    progress: &dyn Progress,
    durable: Option<&Durable>,
) -> Result<Staged, UpdateError> {
    let component = kit.component;
    let wanted: Vec<&Wanted> = files.files.iter().collect();
    let taken = reuse::take_unchanged(&wanted, &bases(root, component), tree)?;
    let needed: HashSet<&str> = wanted
        .iter()
        .map(|w| w.path.as_str())
        .filter(|p| !taken.paths.contains(*p))
        .collect();
    let mut staged = Staged {
        files: FilesStaged {
            switched: false,
            intact: false,
            check: check_kind(files),
            linked: taken.linked,
            copied: taken.copied,
            taken_bytes: taken.bytes,
            unpacked: Unpacked::default(),
        },
        sums: taken.sums.into_iter().collect(),
    };
    if needed.is_empty() {
        checkpoint::reach(&format!("staged:{}", component.id()))?;
        return Ok(staged);
    }
    let archive = match archive {
        Some(archive) => archive,
        None => {
            progress.stage(component, Stage::Download, kit.archive_size);
            source.local_archive(kit, progress)?
        }
    };
    checkpoint::reach(&format!("staged:{}", component.id()))?;
    if progress.cancelled() {
        return Err(UpdateError::Cancelled);
    }
    let (unpacked, sums) = unpack_listed::unpack_listed(
        &archive,
        tree,
        &files.listed(),
        &needed,
        component,
        progress,
        durable,
    )?;
    staged.files.unpacked = unpacked;
    staged.sums.extend(sums);
    Ok(staged)
}

/// `sha256` when the kit's files are known by the signed manifest, `crc32` when by the archive's
/// header.
pub(super) fn check_kind(files: &KitFiles) -> &'static str {
    files.files.first().map_or("sha256", |w| w.check.kind())
}

/// Whether the installed tree already is `kit` (asked for again with `--force`): its version,
/// no link in it, no file the kit does not hold, and every file of the kit there and passing its
/// check, hashed now, the kit's files beside the archive included where the index vouches for
/// them. Then a reinstall has nothing to write.
pub(super) fn is_intact(root: &InstallRoot, kit: &Kit, files: &KitFiles) -> bool {
    let tree = root.component_dir(kit.component);
    let Some(version) = kit.version.clone() else {
        return false;
    };
    version_file::installed(&tree) == Some(ClientVersion::Release(version))
        && holds_no_link(&tree).is_ok()
        && fixups::writes_stay_inside(&tree)
        && prune_to_kit(&tree, kit, files)
        && holds(&tree, files)
        && kit.files.iter().all(|f| {
            f.sha256.as_ref().is_none_or(|sha256| {
                reuse::passes(&tree.join(f.name), f.size, |sums| sums.sha256 == *sha256)
            })
        })
}

/// A tree kept on this machine that holds `kit`'s version as it was installed, so that installing
/// it is a swap: a real folder with no link in it, holding no file the kit does not, whose every
/// file (but the GUI's own state) passes the kit's check, hashed now.
pub(super) fn kept_tree(root: &InstallRoot, kit: &Kit, files: &KitFiles) -> Option<PathBuf> {
    let wanted = Some(ClientVersion::Release(kit.version.clone()?));
    // A reinstall of the installed version is asked for when that tree is suspect: never a swap.
    if version_file::installed(&root.component_dir(kit.component)) == wanted {
        return None;
    }
    kept_trees(root, kit.component).into_iter().find(|tree| {
        version_file::installed(tree) == wanted
            && holds_no_link(tree).is_ok()
            && fixups::writes_stay_inside(tree)
            && prune_to_kit(tree, kit, files)
            && holds(tree, files)
    })
}

/// Whether every file of `files` but the GUI's state is in `tree` and passes its check now.
fn holds(tree: &Path, files: &KitFiles) -> bool {
    let to_check: Vec<&Wanted> = files
        .files
        .iter()
        .filter(|w| !reuse::is_gui_state(&w.path))
        .collect();
    worker::map("prove-kept", &to_check, worker::cores(), |wanted| {
        reuse::passes(&tree.join(&wanted.path), wanted.size, |sums| {
            sums.pass(&wanted.check)
        })
    })
    .into_iter()
    .all(|passed| passed == Some(true))
}

/// Removes from `tree` the files in Python's byte-code caches (`__pycache__/`) that the kit does
/// not list: Python writes them as it runs and writes them again, and a planted one would run in
/// place of its source. Then whether every file left is one the kit installs, the GUI's own
/// state or the tree's record: a file added to a kept tree (a plug-in, a `.pth`) would otherwise
/// be switched in unchecked.
fn prune_to_kit(tree: &Path, kit: &Kit, files: &KitFiles) -> bool {
    // What the install writes itself, whether or not the archive holds it too.
    let written = [
        super::tree_record::RECORD_FILE,
        version_file::VERSION_FILE,
        version_file::BUILD_FILE,
    ];
    let known: HashSet<&str> = files
        .files
        .iter()
        .chain(&files.written_by_install)
        .map(|w| w.path.as_str())
        .chain(written)
        .chain(kit.files.iter().map(|f| f.name))
        .collect();
    let mut pending = vec![(tree.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            return false;
        };
        for entry in entries {
            let Ok(entry) = entry else {
                return false;
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = format!("{prefix}{name}");
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push((entry.path(), format!("{relative}/"))),
                Ok(kind) if kind.is_file() => {
                    if known.contains(relative.as_str()) || reuse::is_gui_state(&relative) {
                        continue;
                    }
                    let in_cache = relative.split('/').any(|part| part == "__pycache__");
                    if in_cache && fsx::remove_file(&entry.path()).is_ok() {
                        continue;
                    }
                    tracing::info!(
                        "{} is not switched to: it holds {relative}, which the kit does not",
                        tree.display()
                    );
                    return false;
                }
                _ => return false,
            }
        }
    }
    true
}

/// Refuses a tree that is, or holds, a link (or a Windows junction) where a folder or a file
/// should be: nothing is swapped in that reaches out of the install root.
pub(super) fn holds_no_link(tree: &Path) -> Result<(), UpdateError> {
    let refused = |path: &Path| UpdateError::KeptTreeChanged {
        tree: tree.to_path_buf(),
        detail: format!("{} is a link, and a kept tree holds none", path.display()),
    };
    if !fs::symlink_metadata(tree).is_ok_and(|m| m.is_dir()) {
        return Err(refused(tree));
    }
    let mut pending = vec![tree.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(UpdateError::io("list", &dir))? {
            let entry = entry.map_err(UpdateError::io("list", &dir))?;
            let kind = entry
                .file_type()
                .map_err(UpdateError::io("inspect", entry.path()))?;
            if kind.is_symlink() {
                return Err(refused(&entry.path()));
            }
            if kind.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    Ok(())
}

/// Proves a tree about to be rolled back to: no link in it, and every file its record lists that
/// two trees may share (linked files, which an edit in place through the other tree would have
/// changed too) still passes the record's checksums, hashed now. A tree without a record (not
/// installed by this updater) is checked for links only.
pub(super) fn check_rollback_tree(tree: &Path) -> Result<(), UpdateError> {
    holds_no_link(tree)?;
    let Some((recorded, _)) = super::tree_record::read(tree) else {
        return Ok(());
    };
    let shared: Vec<_> = recorded
        .into_iter()
        .filter(|f| reuse::is_shareable(&f.path))
        .collect();
    let verdicts = worker::map("prove-rollback", &shared, worker::cores(), |file| {
        reuse::passes(&tree.join(&file.path), file.size, |sums| {
            file.sha256.as_ref().is_none_or(|s| *s == sums.sha256)
                && file.crc32.is_none_or(|c| c == sums.crc32)
        })
    });
    match shared
        .iter()
        .zip(verdicts)
        .find(|(_, passed)| *passed != Some(true))
    {
        Some((file, _)) => Err(UpdateError::KeptTreeChanged {
            tree: tree.to_path_buf(),
            detail: format!(
                "its {} is not what was installed (changed since, or through a tree it shares it with)",
                file.path
            ),
        }),
        None => Ok(()),
    }
}

/// Installs a kept tree: the user's GUI state is carried into it, as into a new one, its own
/// state set aside in the transaction's folder until the swap commits, and put back whatever
/// fails before that ([`KeptSwitch`]).
pub(super) fn switch_to(
    root: &InstallRoot,
    kit: &Kit,
    tree: PathBuf,
    options: &InstallOptions,
    tx_dir: &Path,
) -> Result<(PathBuf, KeptSwitch), UpdateError> {
    tracing::info!(
        "{} {} is kept at {}: switching to it",
        kit.component,
        kit.release,
        tree.display()
    );
    let aside = tx_dir.join(format!("{}.kept-state", kit.component.id()));
    let mut switch = KeptSwitch {
        component: kit.component,
        tree: tree.clone(),
        aside,
        moved: Vec::new(),
        done: false,
    };
    switch.set_own_state_aside()?;
    fixups::apply(
        kit.component,
        &tree,
        &root.component_dir(kit.component),
        &options.hostname,
    )?;
    // What was just written into the tree is on the disk before the swap commits.
    fixups::sync_written(kit.component, &tree)?;
    Ok((tree, switch))
}

/// A kept tree being switched to, whose own GUI state waits in the transaction's folder: put
/// back when the switch does not go through (dropped before [`KeptSwitch::done`]).
#[derive(Debug)]
pub(super) struct KeptSwitch {
    component: Component,
    tree: PathBuf,
    aside: PathBuf,
    /// The state folders moved aside, relative to the tree.
    moved: Vec<&'static str>,
    done: bool,
}

impl KeptSwitch {
    fn set_own_state_aside(&mut self) -> Result<(), UpdateError> {
        if self.component != Component::IbexGui {
            return Ok(());
        }
        for folder in fixups::USER_STATE {
            let from = self.tree.join(folder);
            if fs::symlink_metadata(&from).is_err() {
                continue;
            }
            let to = self.aside.join(folder);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(UpdateError::io("create", parent))?;
            }
            fsx::rename(&from, &to)?;
            self.moved.push(folder);
        }
        Ok(())
    }

    /// The switch went through: the tree's old state goes with the transaction's folder.
    pub fn done(mut self) {
        self.done = true;
    }
}

impl Drop for KeptSwitch {
    fn drop(&mut self) {
        if self.done || self.component != Component::IbexGui {
            return;
        }
        for folder in fixups::USER_STATE {
            let carried = self.tree.join(folder);
            if fs::symlink_metadata(&carried).is_ok()
                && let Err(e) = fsx::remove_dir_all(&carried)
            {
                tracing::warn!(
                    "could not take the carried state out of {}: {e}",
                    self.tree.display()
                );
            }
        }
        for folder in &self.moved {
            if let Err(e) = fsx::rename(&self.aside.join(folder), &self.tree.join(folder)) {
                tracing::warn!(
                    "could not put the state of {} back: {e}",
                    self.tree.display()
                );
            }
        }
    }
}

/// The trees of `component` kept besides the installed one: the one `rollback` restores, then the
/// older ones kept for switching, newest first.
fn kept_trees(root: &InstallRoot, component: Component) -> Vec<PathBuf> {
    let older = journal::kept_trees(&root.kept_dir(component));
    std::iter::once(root.previous_dir(component))
        .chain(older.into_iter().rev().map(|(_, path)| path))
        .filter(|tree| fs::symlink_metadata(tree).is_ok_and(|m| m.is_dir()))
        .collect()
}

/// The trees an install may take files from: the installed one and those kept.
fn bases(root: &InstallRoot, component: Component) -> Vec<PathBuf> {
    std::iter::once(root.component_dir(component))
        .chain(kept_trees(root, component))
        .collect()
}
