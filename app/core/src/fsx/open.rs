//! Opening and reading files that anyone may have put there, safely: within a size cap and a
//! deadline, and only when they are regular files, so that a FIFO is never waited on and a device
//! never read. Two kinds:
//!
//! - files the updater is given (a share's files, the policy, certificates): links are followed,
//!   as an administrator or the release team may use them ([`read_file_capped`]);
//! - state: the updater's files under the install root, which every user of the machine may
//!   write, the user's own data, and the installed client's files. A link there is refused, never
//!   followed ([`read_state_capped`], [`open_state`], [`open_state_for_writing`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::clock;
use crate::error::UpdateError;

/// How long reading a local file may take in all: a disk answers in milliseconds, a network home
/// folder in seconds.
const LOCAL_READ_WAIT: Duration = Duration::from_secs(30);

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

/// Reads the file at `path`, following links, refusing more than `cap` bytes and anything but a
/// regular file; `Ok(None)` when there is no file.
pub fn read_file_capped(path: &Path, cap: u64) -> Result<Option<Vec<u8>>, UpdateError> {
    read_opened(path, open_regular(path), cap)
}

/// Reads the state file at `path` as [`read_file_capped`] does, but a link there is refused too.
pub fn read_state_capped(path: &Path, cap: u64) -> Result<Option<Vec<u8>>, UpdateError> {
    read_opened(path, open_state(path), cap)
}

fn read_opened(
    path: &Path,
    opened: io::Result<Option<File>>,
    cap: u64,
) -> Result<Option<Vec<u8>>, UpdateError> {
    let Some(file) = opened.map_err(UpdateError::io("read", path))? else {
        return Ok(None);
    };
    let deadline = clock::deadline(LOCAL_READ_WAIT);
    let bytes = read_within(file, cap.saturating_add(1), deadline)
        .map_err(UpdateError::io("read", path))?;
    if bytes.len() as u64 > cap {
        return Err(UpdateError::TooLarge {
            path: path.display().to_string(),
            cap,
        });
    }
    Ok(Some(bytes))
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

/// Opens `path` for reading, following links, only if it is a regular file. `Ok(None)` when
/// there is nothing there.
pub fn open_regular(path: &Path) -> io::Result<Option<File>> {
    opened(path, OpenOptions::new().read(true), Follow::Links)
}

/// Opens `path` for reading, following links, only if it is a regular file; nothing there is
/// `NotFound`. For what the updater is given (archives, a share's files), never for state.
pub fn open_file(path: &Path) -> io::Result<File> {
    open_regular(path)?.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
}

/// Opens the state file at `path` for reading, only if it is a regular file and not a link.
/// `Ok(None)` when there is nothing there.
pub fn open_state(path: &Path) -> io::Result<Option<File>> {
    opened(path, OpenOptions::new().read(true), Follow::Never)
}

/// Opens the state file at `path` for writing (creating it, and appending with `append`), only
/// if what is there is a regular file and not a link: a lock or a log planted as a link to
/// another file is refused, never written through.
pub fn open_state_for_writing(path: &Path, append: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).read(true);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(false);
    }
    opened(path, &mut options, Follow::Never)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "it vanished as it was created"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Follow {
    Links,
    Never,
}

/// Opens with `options`, then refuses anything but a regular file: a FIFO is opened without
/// waiting for a writer (non-blocking), and a link, with `Follow::Never`, not at all.
fn opened(path: &Path, options: &mut OpenOptions, follow: Follow) -> io::Result<Option<File>> {
    set_flags(options, follow);
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if is_link_refused(&e) => return Err(not_regular()),
        Err(e) => return Err(e),
    };
    let kind = file.metadata()?.file_type();
    if !kind.is_file() || kind.is_symlink() {
        return Err(not_regular());
    }
    // Blocking again from here on; every other flag (appending) is kept.
    #[cfg(target_os = "linux")]
    rustix::fs::fcntl_setfl(
        &file,
        rustix::fs::fcntl_getfl(&file)? - rustix::fs::OFlags::NONBLOCK,
    )?;
    Ok(Some(file))
}

fn not_regular() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "it is not a regular file (a link, a FIFO, a device or a folder), so it is not used",
    )
}

#[cfg(target_os = "linux")]
fn set_flags(options: &mut OpenOptions, follow: Follow) {
    use rustix::fs::OFlags;
    let mut flags = OFlags::NONBLOCK;
    if follow == Follow::Never {
        flags |= OFlags::NOFOLLOW;
    }
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, flags.bits() as i32);
}

/// Opens a link itself rather than what it points to, so that it can be refused.
#[cfg(windows)]
fn set_flags(options: &mut OpenOptions, follow: Follow) {
    const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    if follow == Follow::Never {
        std::os::windows::fs::OpenOptionsExt::custom_flags(options, FILE_FLAG_OPEN_REPARSE_POINT);
    }
}

#[cfg(not(any(target_os = "linux", windows)))]
fn set_flags(_options: &mut OpenOptions, _follow: Follow) {}

/// What opening a link without following it answers (ELOOP on Linux).
#[cfg(target_os = "linux")]
fn is_link_refused(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
}

#[cfg(not(target_os = "linux"))]
fn is_link_refused(_e: &io::Error) -> bool {
    false
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn state_files_that_are_links_fifos_devices_or_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::write(&real, "state").unwrap();
        assert_eq!(
            read_state_capped(&real, 100).unwrap().as_deref(),
            Some(&b"state"[..])
        );
        assert_eq!(
            read_state_capped(&dir.path().join("none"), 100).unwrap(),
            None
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(read_state_capped(&link, 100).is_err());
        assert!(open_state_for_writing(&link, true).is_err());
        assert_eq!(
            std::fs::read(&real).unwrap(),
            b"state",
            "nothing written through the link"
        );
        assert!(
            read_file_capped(&link, 100).unwrap().is_some(),
            "given files may be links"
        );
        for line in [&b"one\n"[..], b"two\n"] {
            io::Write::write_all(&mut open_state_for_writing(&real, true).unwrap(), line).unwrap();
        }
        assert_eq!(
            std::fs::read(&real).unwrap(),
            b"stateone\ntwo\n",
            "appends append"
        );
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(read_file_capped(&zero, 100).is_err());
        assert!(read_state_capped(dir.path(), 100).is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(read_state_capped(&fifo, 100).is_err());
        assert!(read_file_capped(&fifo, 100).is_err());
        assert!(open_state_for_writing(&fifo, true).is_err());
    }
}
