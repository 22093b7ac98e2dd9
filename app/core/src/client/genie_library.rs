//! The version of the genie_python library inside an installed genie_python. It can differ from
//! the kit's VERSION.txt: the kit build takes the newest genie_python from PyPI at build time.
//! pip records it in `Lib/site-packages/genie_python-<version>.dist-info/METADATA`.

use std::fs;
use std::path::Path;

use crate::client::version::{ClientVersion, Version};
use crate::fsx;

/// METADATA of a package is a page of headers and its README.
const METADATA_CAP: u64 = 1 << 20;
/// Longer than any version pip writes: anything else is not shown.
const MAX_VERSION_LEN: usize = 64;

/// The library version of the genie_python installed at `python`, when pip's record of it can
/// be read.
pub fn library_version(python: &Path) -> Option<String> {
    let site_packages = python.join("Lib").join("site-packages");
    let mut found: Vec<_> = fs::read_dir(&site_packages)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let version = name
                .strip_prefix("genie_python-")?
                .strip_suffix(".dist-info")?
                .to_string();
            Some((name, version))
        })
        .collect();
    found.sort();
    let (dir, from_name) = found.pop()?;
    let metadata = site_packages.join(dir).join("METADATA");
    let from_metadata = fsx::read_state_capped(&metadata, METADATA_CAP)
        .ok()
        .flatten()
        .and_then(|bytes| {
            String::from_utf8_lossy(&bytes)
                .lines()
                .take_while(|l| !l.is_empty())
                .find_map(|l| l.strip_prefix("Version:").map(|v| v.trim().to_string()))
        });
    from_metadata.or(Some(from_name)).filter(|v| is_plain(v))
}

/// The library version when it is worth showing beside the kit's: when it is not the same
/// release as `installed`.
pub fn differing(python: &Path, installed: Option<&ClientVersion>) -> Option<String> {
    let library = library_version(python)?;
    let same = match (installed, library.parse::<Version>()) {
        (Some(ClientVersion::Release(kit)), Ok(lib)) => kit.same_release(&lib),
        _ => false,
    };
    (!same).then_some(library)
}

/// Letters, digits and the punctuation of version numbers only: nothing that could dress up a
/// message.
fn is_plain(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= MAX_VERSION_LEN
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_' | '!'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn python_with(dist_info: &str, metadata: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let info = dir.path().join("Lib/site-packages").join(dist_info);
        fs::create_dir_all(&info).unwrap();
        if let Some(text) = metadata {
            fs::write(info.join("METADATA"), text).unwrap();
        }
        dir
    }

    #[test]
    fn reads_the_version_from_metadata() {
        let dir = python_with(
            "genie_python-26.8.2.dist-info",
            Some(
                "Metadata-Version: 2.1\r\nName: genie_python\r\nVersion: 26.8.2\r\n\r\nVersion: 1.0\n",
            ),
        );
        assert_eq!(library_version(dir.path()).as_deref(), Some("26.8.2"));
        let kit: ClientVersion = "26.8.0.1500".parse().unwrap();
        assert_eq!(differing(dir.path(), Some(&kit)).as_deref(), Some("26.8.2"));
        let same: ClientVersion = "26.8.2.1500".parse().unwrap();
        assert_eq!(differing(dir.path(), Some(&same)), None);
    }

    #[test]
    fn an_oversized_metadata_falls_back_to_the_folder_name() {
        let huge = format!("Version: 9.9.9\n{}", "x".repeat(2 << 20));
        let dir = python_with("genie_python-26.2.0.dist-info", Some(&huge));
        assert_eq!(library_version(dir.path()).as_deref(), Some("26.2.0"));
    }

    #[test]
    fn falls_back_to_the_folder_name_and_refuses_odd_text() {
        let dir = python_with("genie_python-26.2.0.dist-info", None);
        assert_eq!(library_version(dir.path()).as_deref(), Some("26.2.0"));
        let odd = python_with(
            "genie_python-1.dist-info",
            Some("Version: 26.2.0 \u{1b}[31mred\n"),
        );
        assert_eq!(library_version(odd.path()), None);
    }
}
