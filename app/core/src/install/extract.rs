//! What every archive entry must be before anything is unpacked from it: a plain name inside the
//! staging folder, and no link.
//!
//! Kits hold no links, so an archive that holds one (a Unix symlink or a Windows reparse point)
//! is refused whole before anything is written: a link checked by its name alone can be chained
//! with others so that a later entry is written through them, outside the folder. Every file is
//! created new, so nothing is ever written through a path that already exists.

use std::fs::File;
use std::path::{Component as PathPart, Path, PathBuf};

use sevenz_rust2::ArchiveEntry;

use crate::error::UpdateError;

/// 7-Zip sets this attribute bit when the high 16 bits hold a Unix mode.
const UNIX_EXTENSION: u32 = 0x8000;
const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x400;
const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;

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
    file.set_permissions(std::fs::Permissions::from_mode(mode | 0o200))
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
        E::Io(io, _) | E::FileOpen(io, _) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
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
