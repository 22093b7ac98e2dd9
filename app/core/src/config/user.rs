//! Where each setting comes from, most important first: the command line, the environment, the
//! machine policy, the user's own settings, the default. When the policy locks settings
//! (`users_may_change_settings = false`), what it sets cannot be overridden: asking for another
//! value on the command line or in the environment is an error, and user settings are ignored.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::file::read_config;
use crate::config::paths;
use crate::error::UpdateError;

/// A user's own settings, in `<data folder>/settings.toml` (the window will edit them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserSettings {
    pub release_source: Option<String>,
    pub install_root: Option<PathBuf>,
    pub instrument: Option<String>,
    /// For HTTP(S) release sources.
    pub proxy: Option<String>,
}

impl UserSettings {
    pub fn path() -> PathBuf {
        paths::data_dir().join("settings.toml")
    }

    pub fn load() -> Result<UserSettings, UpdateError> {
        Self::load_from(&Self::path())
    }

    pub fn load_from(path: &Path) -> Result<UserSettings, UpdateError> {
        const WHAT: &str = "your settings file";
        match read_config(WHAT, path)? {
            Some(text) => toml::from_str(&text).map_err(|e| UpdateError::BadConfigFile {
                what: WHAT,
                path: path.to_path_buf(),
                detail: e.to_string(),
            }),
            None => Ok(UserSettings::default()),
        }
    }

    pub fn save_to(&self, path: &Path) -> Result<(), UpdateError> {
        let text = toml::to_string(self)
            .map_err(|e| UpdateError::serialize(path.display())(e.to_string()))?;
        crate::fsx::write_atomically(path, text.as_bytes())
    }
}

/// Which layer a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The command line or the environment.
    CommandLine,
    Policy,
    User,
}

/// Picks a setting's value by precedence. `flag` names the command line option and environment
/// variable, for the error when a locked setting is overridden.
pub fn choose<T: PartialEq + fmt::Debug>(
    flag: &str,
    command_line: Option<T>,
    policy: Option<T>,
    user: Option<T>,
    locked: bool,
) -> Result<Option<(T, Origin)>, UpdateError> {
    match (command_line, policy) {
        (Some(wanted), Some(fixed)) if locked && wanted != fixed => {
            Err(UpdateError::PolicyFixesSetting {
                setting: flag.to_string(),
                fixed: format!("{fixed:?}"),
                wanted: format!("{wanted:?}"),
            })
        }
        (Some(value), _) => Ok(Some((value, Origin::CommandLine))),
        (None, Some(value)) => Ok(Some((value, Origin::Policy))),
        (None, None) => Ok(user.map(|value| (value, Origin::User))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(
        cli: Option<&str>,
        policy: Option<&str>,
        user: Option<&str>,
        locked: bool,
    ) -> Result<Option<(String, Origin)>, UpdateError> {
        let own = |s: Option<&str>| s.map(String::from);
        choose("--source", own(cli), own(policy), own(user), locked)
    }

    fn got(value: &str, origin: Origin) -> Option<(String, Origin)> {
        Some((value.to_string(), origin))
    }

    #[test]
    fn command_line_then_policy_then_user() {
        assert_eq!(
            pick(Some("a"), Some("b"), Some("c"), false).unwrap(),
            got("a", Origin::CommandLine)
        );
        assert_eq!(
            pick(None, Some("b"), Some("c"), false).unwrap(),
            got("b", Origin::Policy)
        );
        assert_eq!(
            pick(None, None, Some("c"), false).unwrap(),
            got("c", Origin::User)
        );
        assert_eq!(pick(None, None, None, false).unwrap(), None);
    }

    #[test]
    fn a_locked_policy_value_cannot_be_overridden() {
        let err = pick(Some("a"), Some("b"), None, true).unwrap_err();
        assert!(err.to_string().contains("fixes --source"), "{err}");
        // Asking for the value the policy sets is fine, and user settings never beat the policy.
        assert_eq!(
            pick(Some("b"), Some("b"), None, true).unwrap(),
            got("b", Origin::CommandLine)
        );
        assert_eq!(
            pick(None, Some("b"), Some("c"), true).unwrap(),
            got("b", Origin::Policy)
        );
        // A lock covers only what the policy sets.
        assert_eq!(
            pick(Some("a"), None, Some("c"), true).unwrap(),
            got("a", Origin::CommandLine)
        );
    }
}
