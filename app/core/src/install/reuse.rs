//! Writing only what changed: the files a new version shares with a tree already on disk (the
//! installed one, or one kept for rollback or switching) are hard-linked from it into the staged
//! tree instead of being unpacked again.
//!
//! A hard link shares one file between two trees, so only files that nobody writes in place may be
//! linked. The GUI writes into its own tree (`configuration/`, `workspace/`), the updater edits
//! `ibex-client.ini` and the version files, and people edit settings and scripts by hand: those are
//! always unpacked fresh, one copy per tree. What is linked (jars, libraries, programs) is also
//! marked read-only, so that a program that did try to write one in place would fail rather than
//! change both trees. A file edited since its tree was installed no longer matches that tree's
//! record ([`super::tree_record`]) and is never taken.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use super::extract::safe_relative_path;
use super::tree_record::{self, KeptFile};
use super::verify;
use crate::client::version_file;
use crate::error::UpdateError;
use crate::index::FileEntry;

/// The folder Eclipse writes its caches and settings into while the GUI runs.
const GUI_WRITES: &str = "configuration/";

/// Whether the file at `path` (relative, `/`-separated) is written while the client is in use:
/// by the GUI, or by the updater when it installs.
pub fn is_gui_state(path: &str) -> bool {
    path.starts_with(GUI_WRITES) || verify::is_changed_on_purpose(path)
}

/// Whether the file at `path` (relative, `/`-separated) may be shared between two trees.
pub fn is_shareable(path: &str) -> bool {
    !is_gui_state(path)
        && !verify::is_editable(path)
        && path != version_file::VERSION_FILE
        && path != version_file::BUILD_FILE
}

/// A tree to take files from.
#[derive(Debug, Clone)]
pub struct Base {
    pub tree: PathBuf,
    /// Read each file and check its SHA-256 before taking it, instead of trusting its record: for a
    /// reinstall of the same version, which is asked for when that tree is suspect.
    pub check_content: bool,
}

/// What was taken from the bases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Taken {
    /// Manifest paths now in the staged tree.
    pub paths: HashSet<String>,
    pub linked: u64,
    /// Taken by copying, where a link could not be made (another volume, a filesystem without
    /// hard links).
    pub copied: u64,
    pub bytes: u64,
}

/// Puts into `staged` every shareable file of `wanted` that one of `bases` holds unchanged.
pub fn take_unchanged(
    wanted: &[&FileEntry],
    bases: &[Base],
    staged: &Path,
) -> Result<Taken, UpdateError> {
    let offered: Vec<(HashMap<String, KeptFile>, bool)> = bases
        .iter()
        .map(|base| (tree_record::unchanged(&base.tree), base.check_content))
        .collect();
    let mut taken = Taken::default();
    for entry in wanted.iter().filter(|e| is_shareable(&e.path)) {
        let Some(kept) = find(&offered, entry) else {
            continue;
        };
        let Ok(relative) = safe_relative_path(&entry.path) else {
            continue;
        };
        let dest = staged.join(relative);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(UpdateError::io("create", parent))?;
        }
        if fs::hard_link(&kept.path, &dest).is_ok() {
            set_read_only(&dest)?;
            taken.linked += 1;
        } else {
            fs::copy(&kept.path, &dest).map_err(UpdateError::io("copy", &kept.path))?;
            taken.copied += 1;
        }
        taken.bytes += entry.size;
        taken.paths.insert(entry.path.clone());
    }
    Ok(taken)
}

/// The first base that holds `entry` unchanged (and, where asked, with content that checks).
fn find<'a>(
    offered: &'a [(HashMap<String, KeptFile>, bool)],
    entry: &FileEntry,
) -> Option<&'a KeptFile> {
    offered.iter().find_map(|(files, check_content)| {
        let kept = files.get(&entry.sha256).filter(|k| k.size == entry.size)?;
        if *check_content || kept.racy {
            kept.content_is(entry.size, &entry.sha256).then_some(kept)
        } else {
            Some(kept)
        }
    })
}

fn set_read_only(path: &Path) -> Result<(), UpdateError> {
    let mut permissions = fs::metadata(path)
        .map_err(UpdateError::io("inspect", path))?
        .permissions();
    permissions.set_readonly(true);
    fs::set_permissions(path, permissions).map_err(UpdateError::io("set permissions on", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_edited_in_its_records_tick_is_not_taken_but_its_neighbour_is() {
        let dir = tempfile::tempdir().unwrap();
        let (base, staged) = (dir.path().join("base"), dir.path().join("staged"));
        fs::create_dir_all(&base).unwrap();
        fs::create_dir_all(&staged).unwrap();
        let (a, b) = tree_record::tests::tree_with_an_edit_in_the_records_tick(&base);
        let bases = [Base {
            tree: base,
            check_content: false,
        }];
        let taken = take_unchanged(&[&a, &b], &bases, &staged).unwrap();
        assert_eq!(taken.paths, HashSet::from([a.path.clone()]));
        assert_eq!(fs::read(staged.join("a.jar")).unwrap(), b"aaaa");
        assert!(!staged.join("b.jar").exists());
    }

    #[test]
    fn only_files_nobody_writes_in_place_are_shared() {
        for path in [
            "plugins/uk.ac.stfc.isis.ibex.ui.jar",
            "jre/bin/java.exe",
            "Lib/x.pyd",
        ] {
            assert!(is_shareable(path), "{path}");
        }
        for path in [
            "configuration/org.eclipse.osgi/bundles.info",
            "configuration/.settings/prefs.prefs",
            "workspace/.metadata/.log",
            "ibex-client.ini",
            "VERSION.txt",
            "BUILD_NUMBER.txt",
            "plugins/x/settings.xml",
            "Lib/site-packages/genie.py",
            tree_record::RECORD_FILE,
        ] {
            assert!(!is_shareable(path), "{path}");
        }
    }
}
