//! File steps that must never be left half-done: small files written atomically and durably,
//! renames that ride out Windows' brief sharing violations, and a staging folder that cleans up
//! after itself.
// The wrappers the rest of the core is held to (app/core/clippy.toml) stand on std's own calls.
#![allow(clippy::disallowed_methods)]

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::UpdateError;
use crate::retry::{Attempt, GaveUp, Retry};

mod durable;
mod open;

pub use durable::{Durable, sync_folders};
pub use open::{
    CappedRead, open_file, open_regular, open_state, open_state_for_writing, read_capped,
    read_file_capped, read_state_capped, read_within,
};

/// The most the updater reads of each kind of small file. A source, a hostile one included, can
/// serve anything: past its cap a file is refused rather than read into memory.
pub mod cap {
    /// `index.json` in format 2: a few hundred bytes per kit, so a few hundred kilobytes for a
    /// share with decades of releases.
    pub const INDEX: u64 = 4 << 20;
    /// `index.json` in format 1, which carries every kit's manifest (about 3 MB per kit).
    pub const LEGACY_INDEX: u64 = 256 << 20;
    /// One kit's manifest file, compressed: about 2 MB for a 50,000-file genie_python kit.
    pub const MANIFEST: u64 = 64 << 20;
    /// `index.json.minisig`: a few hundred bytes.
    pub const SIGNATURE: u64 = 64 << 10;
    /// `RELEASE_NOTES.md`.
    pub const NOTES: u64 = 4 << 20;
    /// `VERSION.txt` and `BUILD_NUMBER.txt`: a line each.
    pub const VERSION_FILE: u64 = 4 << 10;
    /// The updater's own files: policy, settings, journal, remembered answers and serials.
    pub const OWN_FILE: u64 = 16 << 20;
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over `path` and syncs
/// the folder, so that a crash or power cut leaves either the old file or the new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), UpdateError> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(UpdateError::io("create", parent))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    // Created new: whatever was left or planted at that name (a link) is removed, never written
    // through.
    let _ = fs::remove_file(&tmp);
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .map_err(UpdateError::io("write", &tmp));
    let renamed = written.and_then(|()| rename(&tmp, path));
    if renamed.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    renamed?;
    sync_dir(parent);
    Ok(())
}

/// Copies the regular file `from` (refusing a link there) to `to`, which must not exist yet:
/// nothing is ever written through what is at `to`. The copy is readable by all and writable by
/// its owner, executable if the source was; other bits (setuid, world-writable) are not copied.
pub fn copy_file(from: &Path, to: &Path) -> Result<u64, UpdateError> {
    let mut source = open_state(from)
        .and_then(|f| f.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound)))
        .map_err(UpdateError::io("read", from))?;
    let permissions = plain_permissions(
        &source
            .metadata()
            .map_err(UpdateError::io("inspect", from))?,
    );
    let mut dest = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(UpdateError::io("create", to))?;
    let copied = io::copy(&mut source, &mut dest).map_err(UpdateError::io("copy", from))?;
    dest.set_permissions(permissions)
        .map_err(UpdateError::io("set permissions on", to))?;
    Ok(copied)
}

#[cfg(unix)]
fn plain_permissions(of: &fs::Metadata) -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    let executable = of.permissions().mode() & 0o111 != 0;
    fs::Permissions::from_mode(if executable { 0o755 } else { 0o644 })
}

/// Windows has only the read-only mark, which the copy keeps.
#[cfg(not(unix))]
fn plain_permissions(of: &fs::Metadata) -> fs::Permissions {
    of.permissions()
}

/// How long a move or delete that Windows refuses is retried: about 5 s in all.
const WHILE_IN_USE: Retry = Retry {
    attempts: 10,
    first_backoff: Duration::from_millis(50),
    max_backoff: Duration::from_secs(1),
};

/// Runs `step` on `path`, retrying while Windows refuses it because another program has a file
/// open: an antivirus scanner or the search indexer holds a file that was just written for a
/// moment, as rustup found. Past the retries the error is [`UpdateError::InUse`].
fn while_in_use(
    op: &'static str,
    path: &Path,
    what: &str,
    mut step: impl FnMut() -> io::Result<()>,
) -> Result<(), UpdateError> {
    WHILE_IN_USE
        .run(what, |_| match step() {
            Ok(()) => Ok(()),
            Err(e) if is_transient_lock(&e) => Err(Attempt::Transient(e.to_string())),
            Err(e) => Err(Attempt::Fatal(e)),
        })
        .map_err(|gave_up| match gave_up {
            GaveUp::Fatal(cause) => UpdateError::io(op, path)(cause),
            GaveUp::Exhausted { last, .. } => UpdateError::InUse {
                path: path.to_path_buf(),
                detail: last,
            },
        })
}

/// Renames `from` to `to`, riding out Windows' brief sharing violations.
pub fn rename(from: &Path, to: &Path) -> Result<(), UpdateError> {
    let what = format!("moving {} to {}", from.display(), to.display());
    while_in_use("move", from, &what, || fs::rename(from, to)).map_err(|e| match e {
        UpdateError::Io { op, path, cause } => UpdateError::Io {
            op,
            path,
            cause: io::Error::new(cause.kind(), format!("to {}: {cause}", to.display())),
        },
        other => other,
    })
}

/// Removes the folder `path` with everything in it, riding out Windows' brief sharing
/// violations. A folder that is not there is fine.
pub fn remove_dir_all(path: &Path) -> Result<(), UpdateError> {
    let what = format!("removing {}", path.display());
    while_in_use("remove", path, &what, || {
        match fs::remove_dir_all(path).or_else(|e| remove_read_only_too(path, e)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    })
}

/// After `error` from deleting the folder `path`: Windows before 10 1607, and some filesystems,
/// cannot delete a read-only file (a file shared
/// with another tree is marked so) without clearing the mark first. The mark belongs to the file,
/// so its other tree's copy loses it too; what an install takes from that tree is still checked
/// by its hash.
#[cfg(windows)]
pub fn remove_read_only_too(path: &Path, error: io::Error) -> io::Result<()> {
    if error.kind() != io::ErrorKind::PermissionDenied {
        return Err(error);
    }
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir)?.flatten() {
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                let mut permissions = entry.metadata()?.permissions();
                if permissions.readonly() {
                    #[allow(clippy::permissions_set_readonly_false)]
                    permissions.set_readonly(false);
                    fs::set_permissions(entry.path(), permissions)?;
                }
            }
        }
    }
    fs::remove_dir_all(path)
}

#[cfg(not(windows))]
pub fn remove_read_only_too(_path: &Path, error: io::Error) -> io::Result<()> {
    Err(error)
}

/// Removes the file `path`, riding out Windows' brief sharing violations. A file that is not
/// there is fine.
pub fn remove_file(path: &Path) -> Result<(), UpdateError> {
    let what = format!("removing {}", path.display());
    while_in_use("remove", path, &what, || match fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    })
}

/// ERROR_ACCESS_DENIED (5), ERROR_SHARING_VIOLATION (32) and ERROR_LOCK_VIOLATION (33): what
/// Windows answers while another process has the file open.
#[cfg(windows)]
fn is_transient_lock(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(5 | 32 | 33))
}

#[cfg(not(windows))]
fn is_transient_lock(_: &io::Error) -> bool {
    false
}

/// Makes renames in a folder durable across a power cut. Best effort: Windows has no equivalent
/// for folders, and a failure here does not undo a rename that already happened.
pub fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    let _ = fs::File::open(dir).and_then(|d| d.sync_all());
    #[cfg(not(unix))]
    let _ = dir;
}

/// Reads into `buf` until it is full or `reader` ends; returns how much it holds. Callers hand
/// whole buffers on to another thread, so a short read must not make a short buffer.
pub fn fill(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A folder that is removed, with everything in it, when the guard is dropped, unless
/// [`Staging::keep`] hands it on first. An install's staging folder: whatever fails before the
/// swap, nothing is left behind.
#[derive(Debug)]
pub struct Staging {
    path: Option<PathBuf>,
}

impl Staging {
    pub fn create(path: PathBuf) -> Result<Staging, UpdateError> {
        fs::create_dir_all(&path).map_err(UpdateError::io("create", &path))?;
        Ok(Staging { path: Some(path) })
    }

    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// Guards a folder that exists already, such as one [`Staging::keep`] handed on.
    pub fn adopt(path: PathBuf) -> Staging {
        Staging { path: Some(path) }
    }

    /// Stops guarding the folder and returns it: from here on someone else (the install journal)
    /// is responsible for it.
    pub fn keep(mut self) -> PathBuf {
        self.path.take().unwrap_or_default()
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(path) = self.path.take()
            && let Err(e) = remove_dir_all(&path)
        {
            tracing::warn!(
                "could not remove the staging folder {}: {e}; the next run will",
                path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use super::*;

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/settings.toml");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["settings.toml"]);
    }

    #[test]
    fn a_durable_tree_takes_more_files_than_a_queue_holds_and_waits_for_them_all() {
        let dir = tempfile::tempdir().unwrap();
        let durable = Durable::start(dir.path());
        for n in 0..500 {
            let path = dir.path().join(format!("f{n}"));
            let mut file = File::create(&path).unwrap();
            file.write_all(b"data").unwrap();
            durable.written(file, path).unwrap();
        }
        durable.finish(dir.path(), &[]).unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 500);
    }

    #[test]
    fn staging_is_removed_on_drop_unless_kept() {
        let dir = tempfile::tempdir().unwrap();
        let dropped = Staging::create(dir.path().join("a")).unwrap();
        fs::write(dropped.path().join("file"), "x").unwrap();
        drop(dropped);
        assert!(!dir.path().join("a").exists());
        let kept = Staging::create(dir.path().join("b")).unwrap().keep();
        assert!(kept.is_dir());
    }

    /// A file held open without sharing, as a virus scanner holds one it is reading.
    #[cfg(windows)]
    fn hold(path: &Path) -> File {
        use std::os::windows::fs::OpenOptionsExt;
        File::options().read(true).share_mode(0).open(path).unwrap()
    }

    #[cfg(windows)]
    #[test]
    fn a_rename_and_a_delete_wait_until_the_file_is_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("held"), dir.path().join("moved"));
        fs::write(&from, "x").unwrap();
        for step in 0..2 {
            let path = if step == 0 { &from } else { &to };
            let held = hold(path);
            let release = crate::worker::spawn("release", move || {
                std::thread::sleep(Duration::from_millis(300));
                drop(held);
            })
            .unwrap();
            if step == 0 {
                rename(&from, &to).unwrap();
            } else {
                remove_file(&to).unwrap();
            }
            release.join().unwrap();
        }
        assert!(!from.exists() && !to.exists());
    }

    #[cfg(windows)]
    #[test]
    fn a_file_held_past_the_retries_is_in_use_and_left_where_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("held");
        fs::write(&path, "x").unwrap();
        let _held = hold(&path);
        let err = rename(&path, &dir.path().join("moved")).unwrap_err();
        assert!(matches!(err, UpdateError::InUse { .. }), "{err:?}");
        assert!(err.to_string().contains("close the IBEX GUI"), "{err}");
        let err = remove_file(&path).unwrap_err();
        assert!(matches!(err, UpdateError::InUse { .. }), "{err:?}");
        assert!(path.exists());
    }

    #[test]
    fn a_failed_rename_names_both_paths() {
        let dir = tempfile::tempdir().unwrap();
        let err = rename(&dir.path().join("missing"), &dir.path().join("to")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("missing") && text.contains("to"), "{text}");
    }
}
