//! The machine policy, which IT uses to configure every desktop the same way.
//!
//! Read from `IBEX_UPDATER_POLICY` when set, else `%ProgramData%\IBEX Updater\policy.toml` on
//! Windows (under the registry values in `HKLM\Software\Policies\ISIS\IBEX Updater`, which Group
//! Policy and the MSI's properties set, and which win) and `/etc/ibex-updater/policy.toml`
//! elsewhere. A missing file is an empty policy, and empty values count as unset (the MSI writes
//! empty values for the properties it was not given).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::file::read_config;
use crate::error::UpdateError;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// A share folder (or, later, a mirror URL).
    pub release_source: Option<String>,
    pub install_root: Option<PathBuf>,
    /// The instrument this machine works with, used when no other is named.
    pub instrument: Option<String>,
    /// The site's Channel Access address list (EPICS_CA_ADDR_LIST overrides it).
    pub ca_addr_list: Option<String>,
    /// Proxy for HTTP mirrors.
    pub proxy: Option<String>,
    /// Public keys, besides the built-in ones, that may sign release indexes.
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    /// Keep every machine on this release, whatever the instrument runs.
    pub pinned_release: Option<String>,
    /// Accept release sources without a signed index.
    pub allow_unsigned: Option<bool>,
    /// Accept plain `http://` mirrors (HTTPS otherwise).
    pub allow_http: Option<bool>,
    /// PEM files of certificate authorities to trust for HTTPS mirrors, besides the system's
    /// (a site whose proxy inspects TLS needs its own CA here).
    #[serde(default)]
    pub extra_ca_certs: Vec<PathBuf>,
    /// The most the downloads cache of an HTTP mirror keeps, in megabytes, besides the archives
    /// of the last install (default 2048).
    pub download_cache_mb: Option<u64>,
    /// The site's folder of EPICS command-line tools, mirrored to `<install root>/EPICS_UTILS`
    /// after every client install.
    pub epics_utils_source: Option<PathBuf>,
    /// How many trees of each component stay on disk, the installed one included (default 2: the
    /// installed one and the one `rollback` restores). Switching to a kept release is a swap.
    pub keep_releases: Option<u32>,
    /// How long `launch` waits for the instrument's server version before it starts the GUI
    /// anyway, in milliseconds (default 1000).
    pub launch_check_ms: Option<u64>,
    /// How often the logon check may run.
    pub check_interval_hours: Option<u32>,
    /// Whether the mismatch check runs at logon.
    pub auto_check: Option<bool>,
    /// `false` locks every setting this policy sets: users cannot override them.
    pub users_may_change_settings: Option<bool>,
}

impl Policy {
    pub fn path() -> PathBuf {
        if let Some(path) = std::env::var_os("IBEX_UPDATER_POLICY") {
            return PathBuf::from(path);
        }
        if cfg!(windows) {
            let program_data =
                std::env::var_os("ProgramData").unwrap_or_else(|| r"C:\ProgramData".into());
            PathBuf::from(program_data)
                .join("IBEX Updater")
                .join("policy.toml")
        } else {
            PathBuf::from("/etc/ibex-updater/policy.toml")
        }
    }

    /// The machine's policy: the file, then (on Windows) the registry values over it.
    pub fn load() -> Result<Policy, UpdateError> {
        let file = Self::load_from(&Self::path())?;
        Ok(registry::overlay(file))
    }

    pub fn load_from(path: &Path) -> Result<Policy, UpdateError> {
        let text = match read_config("the policy file", path)? {
            Some(text) => text,
            None => return Ok(Policy::default()),
        };
        let policy: Policy = toml::from_str(&text).map_err(|e| UpdateError::BadConfigFile {
            what: "the policy file",
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        Ok(policy.without_empty_values())
    }

    /// Whether the policy fixes its settings for users.
    /// `check_interval_hours` as a duration.
    pub fn check_interval(&self) -> Option<Duration> {
        self.check_interval_hours
            .map(|hours| Duration::from_secs(u64::from(hours) * 3600))
    }

    pub fn locks_settings(&self) -> bool {
        self.users_may_change_settings == Some(false)
    }

    fn without_empty_values(mut self) -> Policy {
        let blank = |s: &Option<String>| s.as_deref().is_some_and(|v| v.trim().is_empty());
        for field in [
            &mut self.release_source,
            &mut self.instrument,
            &mut self.ca_addr_list,
            &mut self.proxy,
            &mut self.pinned_release,
        ] {
            if blank(field) {
                *field = None;
            }
        }
        for path in [&mut self.install_root, &mut self.epics_utils_source] {
            if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                *path = None;
            }
        }
        self.trusted_keys.retain(|k| !k.trim().is_empty());
        self
    }
}

#[cfg(windows)]
mod registry {
    //! `HKLM\Software\Policies\ISIS\IBEX Updater`: string values ReleaseSource, InstallRoot,
    //! Instrument, CaAddrList, Proxy, PinnedRelease, EpicsUtilsSource, and TrustedKeys and
    //! ExtraCaCerts (one per line); DWORD values AllowUnsigned, AllowHttp, DownloadCacheMb,
    //! LaunchCheckMs, AutoCheck, CheckIntervalHours and UsersMayChangeSettings.
    use std::path::PathBuf;

    use winreg::RegKey;
    use winreg::enums::HKEY_LOCAL_MACHINE;

    use super::Policy;

    pub const KEY: &str = r"Software\Policies\ISIS\IBEX Updater";

    pub fn overlay(mut policy: Policy) -> Policy {
        let Ok(key) = RegKey::predef(HKEY_LOCAL_MACHINE).open_subkey(KEY) else {
            return policy;
        };
        let text = |name: &str| {
            key.get_value::<String, _>(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
        };
        let number = |name: &str| key.get_value::<u32, _>(name).ok();
        if let Some(v) = text("ReleaseSource") {
            policy.release_source = Some(v);
        }
        if let Some(v) = text("InstallRoot") {
            policy.install_root = Some(v.into());
        }
        if let Some(v) = text("Instrument") {
            policy.instrument = Some(v);
        }
        if let Some(v) = text("CaAddrList") {
            policy.ca_addr_list = Some(v);
        }
        if let Some(v) = text("Proxy") {
            policy.proxy = Some(v);
        }
        if let Some(v) = text("EpicsUtilsSource") {
            policy.epics_utils_source = Some(v.into());
        }
        if let Some(v) = text("PinnedRelease") {
            policy.pinned_release = Some(v);
        }
        if let Some(v) = text("ExtraCaCerts") {
            policy.extra_ca_certs.extend(
                v.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(PathBuf::from),
            );
        }
        if let Some(v) = text("TrustedKeys") {
            policy.trusted_keys.extend(
                v.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from),
            );
        }
        if let Some(v) = number("AllowUnsigned") {
            policy.allow_unsigned = Some(v != 0);
        }
        if let Some(v) = number("DownloadCacheMb") {
            policy.download_cache_mb = Some(u64::from(v));
        }
        if let Some(v) = number("KeepReleases") {
            policy.keep_releases = Some(v);
        }
        if let Some(v) = number("LaunchCheckMs") {
            policy.launch_check_ms = Some(u64::from(v));
        }
        if let Some(v) = number("AllowHttp") {
            policy.allow_http = Some(v != 0);
        }
        if let Some(v) = number("AutoCheck") {
            policy.auto_check = Some(v != 0);
        }
        if let Some(v) = number("CheckIntervalHours") {
            policy.check_interval_hours = Some(v);
        }
        if let Some(v) = number("UsersMayChangeSettings") {
            policy.users_may_change_settings = Some(v != 0);
        }
        policy
    }
}

#[cfg(not(windows))]
mod registry {
    use super::Policy;

    /// Only Windows has a registry; elsewhere the file is the whole policy.
    pub fn overlay(policy: Policy) -> Policy {
        policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_setting_and_treats_empty_values_as_unset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        std::fs::write(
            &path,
            r#"
release_source = '\\server\Releases'
install_root = ''
instrument = 'LARMOR'
ca_addr_list = '192.0.2.255'
proxy = ' '
trusted_keys = ['RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3', '']
pinned_release = '26.2.1'
allow_unsigned = false
check_interval_hours = 24
auto_check = true
users_may_change_settings = false
"#,
        )
        .unwrap();
        let policy = Policy::load_from(&path).unwrap();
        assert_eq!(policy.release_source.as_deref(), Some(r"\\server\Releases"));
        assert_eq!(policy.install_root, None);
        assert_eq!(policy.proxy, None);
        assert_eq!(policy.trusted_keys.len(), 1);
        assert_eq!(policy.check_interval_hours, Some(24));
        assert!(policy.locks_settings());
    }

    #[test]
    fn unknown_settings_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        std::fs::write(&path, "relase_source = 'x'\n").unwrap();
        let err = Policy::load_from(&path).unwrap_err().to_string();
        assert!(err.contains("relase_source"), "{err}");
    }
}
