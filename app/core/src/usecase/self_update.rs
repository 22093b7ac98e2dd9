//! Updating the updater itself, from the builds its source's signed index lists for this
//! platform. The new build is fetched next to the running one and checked (SHA-256 from the
//! index, then a run of `--version`) before `self-replace` swaps it in for the running binary: a
//! failure at any step leaves the old one working.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::catalog::Catalog;
use crate::error::UpdateError;
use crate::index::{ReleaseIndex, UpdaterBuild};
use crate::progress::Progress;
use crate::source::ReleaseSource;

/// This build's version and platform.
pub const CURRENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The target triple this build was compiled for, as the index names builds.
pub fn current_target() -> &'static str {
    env!("IBEX_UPDATER_TARGET")
}

/// The newest published build of the updater for this platform, if it is newer than this one.
pub fn offer(catalog: &Catalog) -> Result<Option<&UpdaterBuild>, UpdateError> {
    let index = catalog.signed_index("it publishes no updater builds")?;
    Ok(newer_build(index, CURRENT_VERSION, current_target()))
}

/// The newest build for `target` in the index, if it is newer than `current`.
pub fn newer_build<'a>(
    index: &'a ReleaseIndex,
    current: &str,
    target: &str,
) -> Option<&'a UpdaterBuild> {
    let current = semver::Version::parse(current).ok()?;
    index
        .updater
        .iter()
        .filter(|b| b.target == target)
        .filter_map(|b| semver::Version::parse(&b.version).ok().map(|v| (v, b)))
        .filter(|(v, _)| *v > current)
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, b)| b)
}

/// Replaces the running binary (at `exe`) with `build` from `source`.
pub fn apply(
    source: &dyn ReleaseSource,
    build: &UpdaterBuild,
    exe: &Path,
    progress: &dyn Progress,
) -> Result<(), UpdateError> {
    let dir = exe
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let suffix = std::env::consts::EXE_SUFFIX;
    let new = dir.join(format!(".ibex-updater-{}.new{suffix}", build.version));
    let result = fetch_and_check(source, build, &new, progress).and_then(|()| {
        self_replace::self_replace(&new).map_err(|cause| UpdateError::Io {
            op: "replace",
            path: exe.to_path_buf(),
            cause,
        })
    });
    // On success the new binary was copied in place of the running one.
    let _ = crate::fsx::remove_file(&new);
    result
}

fn fetch_and_check(
    source: &dyn ReleaseSource,
    build: &UpdaterBuild,
    new: &Path,
    progress: &dyn Progress,
) -> Result<(), UpdateError> {
    source.fetch_file(&build.path, build.size, &build.sha256, new, progress)?;
    make_executable(new)?;
    // The hash says it is the published file; this says the published file runs here.
    let output = Command::new(new).arg("--version").output();
    match output {
        Ok(out)
            if out.status.success()
                && String::from_utf8_lossy(&out.stdout).starts_with("ibex-updater ") =>
        {
            Ok(())
        }
        Ok(out) => Err(UpdateError::BadUpdaterBuild {
            path: build.path.clone(),
            detail: format!(
                "`--version` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        }),
        Err(e) => Err(UpdateError::BadUpdaterBuild {
            path: build.path.clone(),
            detail: format!("it does not run here: {e}"),
        }),
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), UpdateError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(UpdateError::io("set permissions on", path))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<(), UpdateError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(target: &str, version: &str) -> UpdaterBuild {
        UpdaterBuild {
            target: target.into(),
            version: version.into(),
            path: format!("Updater/{version}/{target}/ibex-updater"),
            size: 1,
            sha256: String::new(),
            modified_ns: None,
        }
    }

    #[test]
    fn offers_the_newest_build_for_this_platform_only_when_newer() {
        let index = ReleaseIndex {
            format: 2,
            serial: 1,
            source: None,
            published: 0,
            expires: 0,
            releases: Vec::new(),
            updater: vec![
                build("linux", "0.2.0"),
                build("linux", "0.10.0"),
                build("windows", "9.0.0"),
                build("linux", "0.0.9"),
            ],
            rotations: Vec::new(),
        };
        assert_eq!(
            newer_build(&index, "0.1.0", "linux").map(|b| b.version.as_str()),
            Some("0.10.0")
        );
        assert_eq!(newer_build(&index, "0.10.0", "linux"), None);
        assert_eq!(newer_build(&index, "0.1.0", "mac"), None);
    }
}
