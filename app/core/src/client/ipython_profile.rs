//! genie_python's per-user step, done natively: what `create_ipython_config.bat` does after the
//! real install script has unpacked genie_python. The kit's `ipython_config.py` (installed into
//! `Python3/` with the kit) is copied to `<home>/.ipython/profile_default/`, keeping a different
//! file that is already there as `ipython_config.py.old`. Without it genie_python starts with no
//! `g.`.
//!
//! It belongs to the scientist's own profile, not to whoever ran the install, so each user's
//! profile records which config it last received (`.ibex-updater-config`, its SHA-256). The step is
//! pending for a user until that record names the installed config; it is done by the install
//! itself, and by the user's next window start or logon check. A system account's profile is
//! never written.

use std::path::{Path, PathBuf};

use crate::digest;
use crate::error::UpdateError;
use crate::fsx;

pub use super::component::IPYTHON_CONFIG as CONFIG_FILE;
/// An IPython config is a page of Python: more than this is not one.
pub const CONFIG_CAP: u64 = 1 << 20;
/// Beside the config in the user's profile: the SHA-256 of the kit config it last received.
const RECORD_FILE: &str = ".ibex-updater-config";

/// Where IPython reads its default profile's config for the user whose home is `home`.
pub fn profile_config(home: &Path) -> PathBuf {
    home.join(".ipython")
        .join("profile_default")
        .join(CONFIG_FILE)
}

/// The current user's home: `%USERPROFILE%` on Windows and `$HOME` elsewhere (as the scripts
/// use), else what the OS says. `None` for a system account, whose profile is never written.
pub fn current_home() -> Option<PathBuf> {
    let variable = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    let home = std::env::var_os(variable)
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()))?;
    (!is_system_profile(&home)).then_some(home)
}

/// The profiles of Windows' SYSTEM and service accounts, and root's home elsewhere: installs
/// run there (an MSI's elevated actions, a silent install pushed by IT), scientists do not.
fn is_system_profile(home: &Path) -> bool {
    let text = home
        .to_string_lossy()
        .to_ascii_lowercase()
        .replace('/', "\\");
    text.contains("\\system32\\config\\systemprofile")
        || text.contains("\\serviceprofiles\\")
        || text.trim_end_matches('\\') == "\\root"
        || text.trim_end_matches('\\').is_empty()
}

/// What the step did for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Created,
    /// A different config was there: it is kept at `kept`.
    Replaced {
        kept: PathBuf,
    },
    /// The user's config was already the kit's.
    AlreadyCurrent,
}

/// Where the step stands for the current user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileStep {
    /// No genie_python with an IPython config is installed, or this user has its config.
    Current,
    /// Done just now.
    Done(Applied),
    /// Not done yet for this user, and why (a system account, or the reason it failed).
    Pending { reason: String },
}

/// The installed config's SHA-256 and bytes, when the genie_python installed at `python`
/// carries one.
fn read_installed(python: &Path) -> Result<Option<(String, Vec<u8>)>, UpdateError> {
    let path = python.join(CONFIG_FILE);
    let Some(bytes) = fsx::read_state_capped(&path, CONFIG_CAP)? else {
        return Ok(None);
    };
    let (_, sha256) =
        digest::of_reader(&mut bytes.as_slice()).map_err(UpdateError::io("hash", &path))?;
    Ok(Some((sha256, bytes)))
}

fn recorded(home: &Path) -> Option<String> {
    let record = profile_config(home).with_file_name(RECORD_FILE);
    fsx::read_state_capped(&record, 1 << 10)
        .ok()
        .flatten()
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
}

/// Whether the user whose home is `home` still needs the config of the genie_python installed
/// at `python`.
pub fn is_pending(python: &Path, home: &Path) -> bool {
    match read_installed(python) {
        Ok(Some((sha256, _))) => recorded(home).as_deref() != Some(sha256.as_str()),
        Ok(None) => false,
        Err(e) => {
            tracing::warn!("cannot tell whether genie_python's IPython profile is set up: {e}");
            false
        }
    }
}

/// Does the step for the current user if it is pending. Never fails: what it could not do is
/// pending, with the reason.
pub fn catch_up(python: &Path) -> ProfileStep {
    let Some(home) = current_home() else {
        return if is_pending_for_anyone(python) {
            ProfileStep::Pending {
                reason: "this is a system account; each user's profile is set up at their next window start or logon check".into(),
            }
        } else {
            ProfileStep::Current
        };
    };
    match apply(python, &home) {
        Ok(Some(applied)) => {
            tracing::info!(
                "genie_python's IPython profile for {}: {applied:?}",
                home.display()
            );
            ProfileStep::Done(applied)
        }
        Ok(None) => ProfileStep::Current,
        // The caller reports it: the install's result, the window's notice, the logon log.
        Err(e) => ProfileStep::Pending {
            reason: e.to_string(),
        },
    }
}

fn is_pending_for_anyone(python: &Path) -> bool {
    matches!(read_installed(python), Ok(Some(_)))
}

/// Copies the installed config into `home`'s profile if that profile has not received it yet.
pub fn apply(python: &Path, home: &Path) -> Result<Option<Applied>, UpdateError> {
    let Some((sha256, bytes)) = read_installed(python)? else {
        return Ok(None);
    };
    if recorded(home).as_deref() == Some(sha256.as_str()) {
        return Ok(None);
    }
    let target = profile_config(home);
    let existing = fsx::read_state_capped(&target, CONFIG_CAP).unwrap_or_else(|e| {
        // Too large or unreadable: not the kit's, so it is kept aside like any other.
        tracing::debug!("{e}");
        Some(Vec::new())
    });
    let applied = match existing {
        Some(existing) if existing == bytes => Applied::AlreadyCurrent,
        Some(_) => {
            let kept = target.with_file_name(format!("{CONFIG_FILE}.old"));
            // A rename moves a link aside rather than writing through it.
            fsx::rename(&target, &kept)?;
            fsx::write_atomically(&target, &bytes)?;
            Applied::Replaced { kept }
        }
        None => {
            fsx::write_atomically(&target, &bytes)?;
            Applied::Created
        }
    };
    fsx::write_atomically(&target.with_file_name(RECORD_FILE), sha256.as_bytes())?;
    Ok(Some(applied))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn system_profiles_are_recognised() {
        for system in [
            r"C:\Windows\system32\config\systemprofile",
            r"C:\WINDOWS\ServiceProfiles\LocalService",
            "/root",
            "/",
        ] {
            assert!(is_system_profile(Path::new(system)), "{system}");
        }
        for user in [r"C:\Users\abc12345", "/home/abc12345", "/rooted"] {
            assert!(!is_system_profile(Path::new(user)), "{user}");
        }
    }

    /// A genie_python installed under a scratch folder, carrying `text` as its config.
    fn python_with_config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let python = dir.path().join("Apps").join("Python3");
        fs::create_dir_all(&python).unwrap();
        fs::write(python.join(CONFIG_FILE), text).unwrap();
        (dir, python)
    }

    #[test]
    fn a_fresh_home_gets_the_config_once() {
        let (dir, python) = python_with_config("c.TerminalIPythonApp.exec_lines = ['g']\n");
        let home = dir.path().join("home");
        assert!(is_pending(&python, &home));
        assert_eq!(apply(&python, &home).unwrap(), Some(Applied::Created));
        assert_eq!(
            fs::read_to_string(profile_config(&home)).unwrap(),
            "c.TerminalIPythonApp.exec_lines = ['g']\n"
        );
        assert!(!is_pending(&python, &home));
        assert_eq!(apply(&python, &home).unwrap(), None);
    }

    #[test]
    fn a_different_config_is_kept_as_old() {
        let (dir, python) = python_with_config("kit\n");
        let home = dir.path().join("home");
        fs::create_dir_all(profile_config(&home).parent().unwrap()).unwrap();
        fs::write(profile_config(&home), "mine\n").unwrap();
        let kept = profile_config(&home).with_file_name("ipython_config.py.old");
        assert_eq!(
            apply(&python, &home).unwrap(),
            Some(Applied::Replaced { kept: kept.clone() })
        );
        assert_eq!(fs::read_to_string(kept).unwrap(), "mine\n");
        assert_eq!(fs::read_to_string(profile_config(&home)).unwrap(), "kit\n");
    }

    #[test]
    fn an_identical_config_is_left_alone() {
        let (dir, python) = python_with_config("kit\n");
        let home = dir.path().join("home");
        fs::create_dir_all(profile_config(&home).parent().unwrap()).unwrap();
        fs::write(profile_config(&home), "kit\n").unwrap();
        assert_eq!(
            apply(&python, &home).unwrap(),
            Some(Applied::AlreadyCurrent)
        );
        assert!(
            !profile_config(&home)
                .with_file_name("ipython_config.py.old")
                .exists()
        );
    }

    #[test]
    fn an_oversized_installed_config_is_refused_and_nothing_written() {
        let (dir, python) = python_with_config(&"#".repeat((2 << 20) as usize));
        let home = dir.path().join("home");
        let err = apply(&python, &home).unwrap_err();
        assert!(matches!(err, UpdateError::TooLarge { .. }), "{err}");
        assert!(!profile_config(&home).exists());
        assert!(!is_pending(&python, &home), "unreadable, so not offered");
    }

    #[test]
    fn nothing_is_pending_without_an_installed_config() {
        let dir = tempfile::tempdir().unwrap();
        let python = dir.path().join("Python3");
        assert!(!is_pending(&python, &dir.path().join("home")));
        assert_eq!(apply(&python, &dir.path().join("home")).unwrap(), None);
    }
}
