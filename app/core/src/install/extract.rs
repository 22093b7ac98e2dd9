//! Step 2 of an install: unpack a 7-Zip archive into the staging folder, with the pure-Rust
//! reader, refusing any entry that would land outside it.
//!
//! Kits hold no links, so an archive that holds one (a Unix symlink or a Windows reparse point)
//! is refused whole before anything is written: a link checked by its name alone can be chained
//! with others so that a later entry is written through them, outside the folder. Every file is
//! created new, so nothing is ever written through a path that already exists.

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Component as PathPart, Path, PathBuf};

use sevenz_rust2::ArchiveEntry;

use crate::client::component::Component;
use crate::error::UpdateError;
use crate::fsx::Syncer;
use crate::progress::{Progress, Stage};

const CHUNK: usize = 1 << 18;
/// 7-Zip sets this attribute bit when the high 16 bits hold a Unix mode.
const UNIX_EXTENSION: u32 = 0x8000;
const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x400;
const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;

/// Unpacks `archive` into `dest` (which must exist), reporting the extract stage of `component`.
/// Returns the number of bytes unpacked.
pub fn extract_7z(
    archive: &Path,
    dest: &Path,
    component: Component,
    progress: &dyn Progress,
    syncer: Option<&Syncer>,
) -> Result<u64, UpdateError> {
    let shown = archive.display().to_string();
    let corrupt = |e: sevenz_rust2::Error| UpdateError::CorruptArchive {
        path: shown.clone(),
        detail: describe(&e),
    };
    let mut reader = crate::archive::open(archive).map_err(corrupt)?;
    // Check every entry before writing anything, so a hostile archive leaves nothing behind.
    for entry in &reader.archive().files {
        check_entry(entry).map_err(|reason| UpdateError::UnsafeArchiveEntry {
            archive: shown.clone(),
            entry: entry.name.clone(),
            reason,
        })?;
    }

    let total = reader.archive().files.iter().map(|f| f.size).sum();
    progress.stage(component, Stage::Extract, Some(total));

    let mut failure = None;
    let mut unpacker = Unpacker {
        archive: &shown,
        dest,
        progress,
        syncer,
        buf: vec![0u8; CHUNK],
        done: 0,
    };
    let result = reader.for_each_entries(|entry, data| match unpacker.write(entry, data) {
        Ok(()) => Ok(true),
        Err(e) => {
            failure = Some(e);
            Err(sevenz_rust2::Error::Other(Cow::Borrowed(
                "extraction stopped",
            )))
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    result.map_err(corrupt)?;
    Ok(unpacker.done)
}

/// Writes entries under `dest`, and counts what it has written.
struct Unpacker<'a> {
    /// The archive, for messages.
    archive: &'a str,
    dest: &'a Path,
    progress: &'a dyn Progress,
    syncer: Option<&'a Syncer>,
    buf: Vec<u8>,
    done: u64,
}

impl Unpacker<'_> {
    fn write(&mut self, entry: &ArchiveEntry, data: &mut dyn Read) -> Result<(), UpdateError> {
        let unsafe_entry = |reason| UpdateError::UnsafeArchiveEntry {
            archive: self.archive.to_string(),
            entry: entry.name.clone(),
            reason,
        };
        let path = self.dest.join(check_entry(entry).map_err(unsafe_entry)?);
        if entry.is_directory {
            return fs::create_dir_all(&path).map_err(UpdateError::io("create", &path));
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(UpdateError::io("create", parent))?;
        }
        let mut out = match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(out) => out,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(unsafe_entry("a name the archive has already written"));
            }
            Err(e) => return Err(UpdateError::io("create", &path)(e)),
        };
        loop {
            let n = match data.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(UpdateError::CorruptArchive {
                        path: self.archive.to_string(),
                        detail: format!("'{}' could not be decoded: {e}", entry.name),
                    });
                }
            };
            if self.progress.cancelled() {
                return Err(UpdateError::Cancelled);
            }
            out.write_all(&self.buf[..n])
                .map_err(UpdateError::io("write", &path))?;
            self.done += n as u64;
            self.progress.advance(self.done);
        }
        set_unix_mode(&out, &path, entry)?;
        match self.syncer {
            Some(syncer) => syncer.sync(out, path),
            None => Ok(()),
        }
    }
}

/// Turns an archive entry name into a relative path that stays inside the destination.
pub fn safe_relative_path(name: &str) -> Result<PathBuf, &'static str> {
    if name.contains('\0') {
        return Err("a NUL byte in the name");
    }
    let name = name.replace('\\', "/");
    if name.starts_with('/') {
        return Err("an absolute path");
    }
    if name.as_bytes().get(1) == Some(&b':') {
        return Err("a path with a drive letter");
    }
    let mut path = PathBuf::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("'..' climbs out of the folder"),
            // ':' names another drive or an NTFS alternate data stream on Windows.
            p if p.contains(':') => return Err("a ':' in the name"),
            p => path.push(p),
        }
    }
    // Belt and braces: whatever the platform makes of the text, only plain names may remain.
    if path.as_os_str().is_empty() || !path.components().all(|c| matches!(c, PathPart::Normal(_))) {
        return Err("an empty or unusual path");
    }
    Ok(path)
}

/// What every entry must be: a plain name inside the folder, and no link.
pub fn check_entry(entry: &ArchiveEntry) -> Result<PathBuf, &'static str> {
    if is_link(entry) {
        return Err("a link, and kits hold no links");
    }
    safe_relative_path(&entry.name)
}

fn is_link(entry: &ArchiveEntry) -> bool {
    let attrs = entry.windows_attributes;
    let unix_link = attrs & UNIX_EXTENSION != 0 && (attrs >> 16) & S_IFMT == S_IFLNK;
    unix_link || attrs & FILE_ATTRIBUTE_REPARSE_POINT != 0
}

#[cfg(unix)]
pub(super) fn set_unix_mode(
    file: &File,
    path: &Path,
    entry: &ArchiveEntry,
) -> Result<(), UpdateError> {
    use std::os::unix::fs::PermissionsExt;
    let attrs = entry.windows_attributes;
    if attrs & UNIX_EXTENSION == 0 {
        return Ok(());
    }
    let mode = (attrs >> 16) & 0o777;
    // Through the open file: no second walk of the path.
    file.set_permissions(fs::Permissions::from_mode(mode | 0o200))
        .map_err(UpdateError::io("set permissions on", path))
}

#[cfg(not(unix))]
pub(super) fn set_unix_mode(
    _file: &File,
    _path: &Path,
    _entry: &ArchiveEntry,
) -> Result<(), UpdateError> {
    Ok(())
}

pub(super) fn describe(e: &sevenz_rust2::Error) -> String {
    use sevenz_rust2::Error as E;
    match e {
        E::BadSignature(_) => "it does not start with the 7-Zip signature".into(),
        E::ChecksumVerificationFailed => "a CRC check of the unpacked data failed".into(),
        E::NextHeaderCrcMismatch => "the CRC check of its header failed".into(),
        E::Io(io, _) | E::FileOpen(io, _) if io.kind() == io::ErrorKind::UnexpectedEof => {
            "it ends early, as a truncated copy does".into()
        }
        E::UnsupportedCompressionMethod(m) => {
            format!("it uses the unsupported compression method {m}")
        }
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_relative_names() {
        assert_eq!(
            safe_relative_path("plugins/a.jar").unwrap(),
            PathBuf::from("plugins/a.jar")
        );
        assert_eq!(
            safe_relative_path("plugins\\b.jar").unwrap(),
            PathBuf::from("plugins/b.jar")
        );
        assert_eq!(safe_relative_path("./x").unwrap(), PathBuf::from("x"));
    }

    #[test]
    fn refuses_names_that_escape() {
        for (name, why) in [
            ("../evil", "'..'"),
            ("a/../../evil", "'..'"),
            ("..\\evil", "'..'"),
            ("/etc/passwd", "absolute"),
            ("\\Windows\\evil.dll", "absolute"),
            ("C:/Windows/evil.dll", "drive"),
            ("c:evil", "drive"),
            ("file.txt:stream", "':'"),
            ("", "empty"),
            ("a\0b", "NUL"),
        ] {
            let err = safe_relative_path(name).unwrap_err();
            assert!(err.contains(why), "{name:?}: {err}");
        }
    }
}
