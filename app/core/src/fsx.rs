//! File steps that must never be left half-done: small files written atomically and durably,
//! renames that ride out Windows' brief sharing violations, and a staging folder that cleans up
//! after itself.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::UpdateError;
use crate::retry::{Attempt, GaveUp, Retry};

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

/// Why a capped read failed.
#[derive(Debug)]
pub enum CappedRead {
    Io(io::Error),
    /// There was more than the cap.
    TooLarge,
}

/// Reads all of `reader`, refusing more than `cap` bytes.
pub fn read_capped(reader: impl Read, cap: u64) -> Result<Vec<u8>, CappedRead> {
    let mut bytes = Vec::new();
    reader
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(CappedRead::Io)?;
    if bytes.len() as u64 > cap {
        return Err(CappedRead::TooLarge);
    }
    Ok(bytes)
}

/// Reads the file at `path`, refusing more than `cap` bytes; `Ok(None)` when there is no file.
pub fn read_file_capped(path: &Path, cap: u64) -> Result<Option<Vec<u8>>, UpdateError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(UpdateError::io("read", path)(e)),
    };
    match read_capped(file, cap) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(CappedRead::Io(e)) => Err(UpdateError::io("read", path)(e)),
        Err(CappedRead::TooLarge) => Err(UpdateError::TooLarge {
            path: path.display().to_string(),
            cap,
        }),
    }
}

/// Reads at most `limit` bytes of `reader`, and fails with `TimedOut` once `deadline` has
/// passed, however slowly bytes keep coming: a trickle ends.
pub fn read_within(mut reader: impl Read, limit: u64, deadline: Instant) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut chunk = vec![0; 64 << 10];
    while (bytes.len() as u64) < limit {
        let want =
            usize::try_from(limit - bytes.len() as u64).map_or(chunk.len(), |n| n.min(chunk.len()));
        let n = match reader.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        bytes.extend_from_slice(&chunk[..n]);
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "it took longer than its deadline",
            ));
        }
    }
    Ok(bytes)
}

/// Opens `path` for reading only if it is a regular file (following links): a FIFO is never
/// waited on, nor a device read. `Ok(None)` when there is nothing there.
pub fn open_regular(path: &Path) -> io::Result<Option<File>> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    // Opening a FIFO for reading waits for a writer; non-blocking, it returns at once, and is
    // then refused below.
    #[cfg(target_os = "linux")]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        rustix::fs::OFlags::NONBLOCK.bits() as i32,
    );
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file",
        ));
    }
    #[cfg(target_os = "linux")]
    rustix::fs::fcntl_setfl(&file, rustix::fs::OFlags::empty())?;
    Ok(Some(file))
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
    let written = File::create(&tmp)
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
    while_in_use("remove", path, &what, || match fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    })
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
    let _ = File::open(dir).and_then(|d| d.sync_all());
    #[cfg(not(unix))]
    let _ = dir;
}

/// Makes files durable in the background while more are being written, so that an install's
/// staged tree is on the disk before the swap commits, without waiting for each file in turn:
/// each file handed over is synced by one of a few named threads, and [`Syncer::finish`] waits
/// for them all.
#[derive(Debug)]
pub struct Syncer {
    files: Option<mpsc::SyncSender<(File, PathBuf)>>,
    workers: Vec<thread::JoinHandle<Result<(), UpdateError>>>,
}

impl Syncer {
    pub const QUEUE: usize = 128;

    /// Syncs on `threads` threads (a sync mostly waits for the disk, so a few overlap well).
    /// At most [`Syncer::QUEUE`] files wait, open, for their turn: beyond that the writer waits,
    /// so a large tree never runs out of file handles.
    pub fn start(threads: usize) -> Syncer {
        let (tx, rx) = mpsc::sync_channel::<(File, PathBuf)>(Self::QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..threads.max(1))
            .filter_map(|n| {
                let rx = rx.clone();
                thread::Builder::new()
                    .name(format!("fsync-{n}"))
                    .spawn(move || {
                        let mut first_error = Ok(());
                        loop {
                            let next = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                            let Ok((file, path)) = next else {
                                return first_error;
                            };
                            if let Err(e) = file.sync_all()
                                && first_error.is_ok()
                            {
                                first_error = Err(UpdateError::io("sync", path)(e));
                            }
                        }
                    })
                    .ok()
            })
            .collect();
        Syncer {
            files: Some(tx),
            workers,
        }
    }

    /// Hands `file` (just written at `path`) over to be synced.
    pub fn sync(&self, file: File, path: PathBuf) -> Result<(), UpdateError> {
        match &self.files {
            Some(files) if !self.workers.is_empty() => files
                .send((file, path))
                .map_err(|e| UpdateError::io("sync", e.0.1)(io::Error::other("no sync thread"))),
            _ => file.sync_all().map_err(UpdateError::io("sync", path)),
        }
    }

    /// Waits until every file handed over is synced.
    pub fn finish(mut self) -> Result<(), UpdateError> {
        drop(self.files.take());
        let mut result = Ok(());
        for worker in self.workers.drain(..) {
            let outcome = worker.join().unwrap_or_else(|_| {
                Err(UpdateError::io("sync", "the staged files")(
                    io::Error::other("a sync thread panicked"),
                ))
            });
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }
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

/// Whether a staged tree is made durable file by file as it is written ([`Syncer`]), or all at
/// once before the swap ([`sync_filesystem_of`]). On Linux one `syncfs` commits the filesystem's
/// journal once, where 20,000 `fsync`s commit it 20,000 times; elsewhere files are flushed one by
/// one, on a few threads, while the next are written.
pub const SYNC_EACH_FILE: bool = !cfg!(target_os = "linux");

/// Writes everything the filesystem holding `dir` has not written yet to the disk, and waits.
#[cfg(target_os = "linux")]
pub fn sync_filesystem_of(dir: &Path) -> Result<(), UpdateError> {
    File::open(dir)
        .and_then(|d| rustix::fs::syncfs(&d).map_err(io::Error::from))
        .map_err(UpdateError::io("sync", dir))
}

/// Starts the disk writing what a staged tree holds while the rest is still being unpacked, so
/// that the [`sync_filesystem_of`] before the swap has little left to wait for: a thread asks for
/// the filesystem's writeback every [`EarlyWriteback::EVERY`] until it is dropped.
#[derive(Debug)]
pub struct EarlyWriteback {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EarlyWriteback {
    pub const EVERY: Duration = Duration::from_millis(250);

    /// `None` where files are synced one by one instead, or when the thread cannot start (the
    /// final sync then does all the work, as before).
    pub fn start(dir: &Path) -> Option<EarlyWriteback> {
        if SYNC_EACH_FILE {
            return None;
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let dir = dir.to_path_buf();
        let thread = thread::Builder::new()
            .name("writeback".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(EarlyWriteback::EVERY)
                {
                    // Only a head start: a failure here is met again, and reported, by the
                    // final sync.
                    if let Err(e) = sync_filesystem_of(&dir) {
                        tracing::debug!("early writeback stopped: {e}");
                        return;
                    }
                }
            })
            .ok()?;
        Some(EarlyWriteback {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EarlyWriteback {
    fn drop(&mut self) {
        self.stop = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Files are synced one by one on these systems ([`SYNC_EACH_FILE`]).
#[cfg(not(target_os = "linux"))]
pub fn sync_filesystem_of(_dir: &Path) -> Result<(), UpdateError> {
    Ok(())
}

/// Syncs every folder under `root` (and `root`), so that the names of the files in them are on
/// the disk too. Windows cannot sync a folder, and journals its names itself.
pub fn sync_folders(root: &Path) -> Result<(), UpdateError> {
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(UpdateError::io("list", &dir))? {
            let entry = entry.map_err(UpdateError::io("list", &dir))?;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(entry.path());
            }
        }
        #[cfg(unix)]
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(UpdateError::io("sync", &dir))?;
    }
    Ok(())
}

/// Syncs the files at `paths` that exist.
pub fn sync_files(paths: &[PathBuf]) -> Result<(), UpdateError> {
    for path in paths {
        match File::options().write(true).open(path) {
            Ok(file) => file.sync_all().map_err(UpdateError::io("sync", path))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(UpdateError::io("sync", path)(e)),
        }
    }
    Ok(())
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
            && let Err(e) = fs::remove_dir_all(&path)
            && e.kind() != io::ErrorKind::NotFound
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
    fn the_syncer_takes_more_files_than_its_queue_and_waits_for_them_all() {
        let dir = tempfile::tempdir().unwrap();
        let syncer = Syncer::start(2);
        for n in 0..Syncer::QUEUE * 3 {
            let path = dir.path().join(format!("f{n}"));
            let mut file = File::create(&path).unwrap();
            file.write_all(b"data").unwrap();
            syncer.sync(file, path).unwrap();
        }
        syncer.finish().unwrap();
        sync_folders(dir.path()).unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), Syncer::QUEUE * 3);
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
            let release = thread::spawn(move || {
                thread::sleep(Duration::from_millis(300));
                drop(held);
            });
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
