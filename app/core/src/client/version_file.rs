//! VERSION.txt and BUILD_NUMBER.txt: how a kit on the share and an installed component say which
//! release they are.

use std::fs;
use std::path::Path;

use crate::client::version::{ClientVersion, Version};
use crate::error::UpdateError;
use crate::fsx;

pub const VERSION_FILE: &str = "VERSION.txt";
pub const BUILD_FILE: &str = "BUILD_NUMBER.txt";

/// Reads `dir/VERSION.txt`, adding the build from `dir/BUILD_NUMBER.txt` when VERSION.txt has
/// none. `Ok(None)` when there is no VERSION.txt.
pub fn read(dir: &Path) -> Result<Option<ClientVersion>, UpdateError> {
    let path = dir.join(VERSION_FILE);
    let Some(text) = read_optional(&path)? else {
        return Ok(None);
    };
    let version: ClientVersion =
        text.parse()
            .map_err(|e: crate::client::version::ParseVersionError| {
                UpdateError::BadVersionFile {
                    path: path.clone(),
                    detail: e.to_string(),
                }
            })?;
    let ClientVersion::Release(release) = &version else {
        return Ok(Some(version));
    };
    if release.build().is_some() {
        return Ok(Some(version));
    }
    let build_path = dir.join(BUILD_FILE);
    match read_optional(&build_path)? {
        Some(build) if !build.trim().is_empty() => {
            let with_build =
                release
                    .with_build(&build)
                    .map_err(|e| UpdateError::BadVersionFile {
                        path: build_path,
                        detail: e.to_string(),
                    })?;
            Ok(Some(ClientVersion::Release(with_build)))
        }
        _ => Ok(Some(version)),
    }
}

/// The version installed in `dir`; `None` when nothing recognisable is installed there (a
/// damaged version file is logged and read as nothing installed).
pub fn installed(dir: &Path) -> Option<ClientVersion> {
    match read(dir) {
        Ok(version) => version,
        Err(e) => {
            tracing::warn!("{e}; treating it as not installed");
            None
        }
    }
}

/// Writes VERSION.txt (and BUILD_NUMBER.txt when there is a build) the way the release build's
/// batch scripts do, with CRLF endings.
pub fn write(dir: &Path, version: &Version) -> Result<(), UpdateError> {
    for (name, text) in contents(version) {
        let path = dir.join(name);
        fs::write(&path, text).map_err(UpdateError::io("write", &path))?;
    }
    Ok(())
}

/// The version files [`write`] writes for `version`, by name.
pub fn contents(version: &Version) -> Vec<(&'static str, String)> {
    let mut files = vec![(VERSION_FILE, format!("{}\r\n", version.release()))];
    if let Some(build) = version.build() {
        files.push((BUILD_FILE, format!("{build}\r\n")));
    }
    files
}

fn read_optional(path: &Path) -> Result<Option<String>, UpdateError> {
    match fsx::read_state_capped(path, fsx::cap::VERSION_FILE) {
        Ok(bytes) => Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned())),
        Err(UpdateError::TooLarge { cap, .. }) => Err(UpdateError::BadVersionFile {
            path: path.to_path_buf(),
            detail: format!("it is larger than {cap} bytes"),
        }),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_batch_written_files_and_joins_the_build_number() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(VERSION_FILE), "26.2.1 \r\n").unwrap();
        fs::write(dir.path().join(BUILD_FILE), " 678\r\n").unwrap();
        let version = read(dir.path()).unwrap().unwrap();
        assert_eq!(version.to_string(), "26.2.1.678");
    }

    #[test]
    fn missing_file_is_none_text_is_a_development_build_and_empty_is_a_named_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().is_none());
        fs::write(dir.path().join(VERSION_FILE), "not a version").unwrap();
        assert_eq!(
            read(dir.path()).unwrap(),
            Some(ClientVersion::Development("not a version".into()))
        );
        fs::write(dir.path().join(VERSION_FILE), " \r\n").unwrap();
        let err = read(dir.path()).unwrap_err();
        assert!(
            matches!(err, UpdateError::BadVersionFile { ref path, .. } if path.ends_with(VERSION_FILE))
        );
    }

    #[test]
    fn write_then_read_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let version: Version = "26.8.0.42".parse().unwrap();
        write(dir.path(), &version).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join(VERSION_FILE)).unwrap(),
            "26.8.0\r\n"
        );
        assert_eq!(
            read(dir.path()).unwrap(),
            Some(ClientVersion::Release(version))
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_version_file_is_refused_not_read() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join(VERSION_FILE)).unwrap();
        let err = read(dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}
