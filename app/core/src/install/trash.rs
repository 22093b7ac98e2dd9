//! Deleting later. A superseded tree (the version that rollback no longer keeps, or what an
//! interrupted run left behind) is moved into the trash with one rename when a transaction ends,
//! and deleted afterwards in the background: deleting 20,000 files takes seconds, and tens of
//! seconds on a disk mounted with `discard`, which nobody should wait for. The front ends start
//! [`empty`] after an install: the window on a thread, the command line in a detached process
//! of its own, so that its exit is not held up.
//!
//! Only whole transaction folders are ever moved in, each under its unique name, so emptying
//! needs no lock: a second emptier racing the first finds entries gone, which is fine.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use crate::error::UpdateError;
use crate::fsx;
use crate::install::layout::InstallRoot;

/// Moves `dir` (a folder under the state folder) into the trash. If that cannot be done (the
/// rename is refused), it is deleted where it is, as before.
pub fn discard(root: &InstallRoot, dir: &Path) -> Result<(), UpdateError> {
    // An empty folder (a transaction that superseded nothing) costs nothing to delete now.
    #[allow(clippy::disallowed_methods)] // only an empty folder: nothing to retry or follow
    if fs::remove_dir(dir).is_ok() {
        return Ok(());
    }
    let Some(name) = dir.file_name() else {
        return fsx::remove_dir_all(dir);
    };
    let trash = root.trash_dir();
    let moved = fs::create_dir_all(&trash)
        .map_err(UpdateError::io("create", &trash))
        .and_then(|()| fsx::rename(dir, &trash.join(name)));
    if let Err(e) = moved {
        tracing::warn!(
            "deleting {} now: it could not be moved to the trash ({e})",
            dir.display()
        );
        return fsx::remove_dir_all(dir);
    }
    Ok(())
}

/// Whether anything waits in the trash.
pub fn has_garbage(root: &InstallRoot) -> bool {
    fs::read_dir(root.trash_dir()).is_ok_and(|mut entries| entries.next().is_some())
}

/// Deletes everything in the trash. Entries that another emptier deleted first are skipped;
/// one that cannot be deleted now (a file held open on Windows) is left for the next time.
// The delete is retried just below, with the read-only marks off; a file held open waits for
// the next time instead.
#[allow(clippy::disallowed_methods)]
pub fn empty(root: &InstallRoot) {
    let Some(trash) = held_trash(root) else {
        return;
    };
    let Ok(entries) = fs::read_dir(trash.path()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let shown = root.trash_dir().join(entry.file_name());
        match fs::remove_dir_all(&path).or_else(|e| fsx::remove_read_only_too(&path, e)) {
            Ok(()) => tracing::info!("deleted the superseded {}", shown.display()),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("left {} in the trash for now: {e}", shown.display()),
        }
    }
}

/// The trash folder as it is now, held open: `None` when it must not be emptied, being a link or
/// in a state folder that is one (anyone may plant those, and deleting through one deletes
/// wherever it points), or, for a privileged run, another account's.
#[cfg(target_os = "linux")]
fn held_trash(root: &InstallRoot) -> Option<HeldTrash> {
    use rustix::fs::{CWD, Mode, OFlags, openat};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let opened = openat(CWD, root.state_dir(), flags, Mode::empty()).and_then(|state| {
        openat(&state, "trash", flags, Mode::empty()).map(|trash| (state, trash))
    });
    let (state, trash) = match opened {
        Ok((state, trash)) => (fs::File::from(state), fs::File::from(trash)),
        Err(rustix::io::Errno::NOENT) => return None,
        Err(e) => {
            tracing::warn!(
                "the trash is left alone: {} ({e})",
                root.trash_dir().display()
            );
            return None;
        }
    };
    for (folder, what) in [(&state, root.state_dir()), (&trash, root.trash_dir())] {
        if let Some(uid) = folder
            .metadata()
            .ok()
            .and_then(|m| crate::account::foreign_owner(&m))
        {
            tracing::warn!(
                "the trash is left alone: {} belongs to another account (uid {uid})",
                what.display()
            );
            return None;
        }
    }
    Some(HeldTrash(trash))
}

/// The trash folder opened without following links; deletes go through the open folder, so that
/// a rename or a link made since it was opened changes nothing.
#[cfg(target_os = "linux")]
struct HeldTrash(fs::File);

#[cfg(target_os = "linux")]
impl HeldTrash {
    fn path(&self) -> std::path::PathBuf {
        use std::os::fd::AsRawFd;
        std::path::PathBuf::from(format!("/proc/self/fd/{}", self.0.as_raw_fd()))
    }
}

/// Elsewhere the folders are checked for links (no run is privileged there; see `account`).
#[cfg(not(target_os = "linux"))]
fn held_trash(root: &InstallRoot) -> Option<HeldTrash> {
    root.check_state_folders().ok()?;
    Some(HeldTrash(root.trash_dir()))
}

#[cfg(not(target_os = "linux"))]
struct HeldTrash(std::path::PathBuf);

#[cfg(not(target_os = "linux"))]
impl HeldTrash {
    fn path(&self) -> std::path::PathBuf {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discarded_folders_wait_in_the_trash_until_it_is_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let root = InstallRoot::new(dir.path());
        let tx = root.staging_dir().join("tx-1");
        fs::create_dir_all(tx.join("ibex-gui.discard/plugins")).unwrap();
        fs::write(tx.join("ibex-gui.discard/plugins/a.jar"), "jar").unwrap();
        assert!(!has_garbage(&root));
        discard(&root, &tx).unwrap();
        assert!(!tx.exists());
        assert!(
            root.trash_dir()
                .join("tx-1/ibex-gui.discard/plugins/a.jar")
                .is_file()
        );
        assert!(has_garbage(&root));
        empty(&root);
        assert!(!has_garbage(&root));
        // An empty folder is deleted at once.
        let empty_tx = root.staging_dir().join("tx-2");
        fs::create_dir_all(&empty_tx).unwrap();
        discard(&root, &empty_tx).unwrap();
        assert!(!empty_tx.exists());
        assert!(!has_garbage(&root));
        // Emptying an empty or missing trash does nothing.
        empty(&root);
        empty(&InstallRoot::new(dir.path().join("nowhere")));
    }
}
