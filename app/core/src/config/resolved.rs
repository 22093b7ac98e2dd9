//! The settings a run works with, resolved once for every front end: the command line and its
//! environment variables, then the machine policy, then the user's settings, then the defaults
//! (the precedence rules are in [`crate::config::user`]). `--demo` replaces all of them with the
//! built-in demo.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::paths;
use crate::config::policy::Policy;
use crate::config::user::{Origin, UserSettings, choose};
use crate::demo::{fleet as demo_fleet, share as demo};
use crate::error::UpdateError;
use crate::index::trust::Trust;
use crate::install::InstallRoot;
use crate::instrument::ca::CaConfig;
use crate::retry::Retry;
use crate::source::http::{HttpOptions, HttpSource};
use crate::source::{ReleaseSource, ShareSource};

/// What the command line (or its environment variables) asked for.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub source: Option<String>,
    pub install_root: Option<PathBuf>,
    pub ca_timeout: Duration,
    /// For HTTP mirrors; zero means the default.
    pub http_timeout: Duration,
    pub demo: bool,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// The release source as written (a folder or a URL), and where that came from.
    pub source_location: Option<(String, Origin)>,
    pub source: Option<Arc<dyn ReleaseSource>>,
    pub install_root: InstallRoot,
    pub install_root_origin: Option<Origin>,
    /// Where instruments are searched for over Channel Access.
    pub ca: CaConfig,
    /// The instrument to ask when none is named (policy, then user settings).
    pub instrument: Option<String>,
    pub policy: Policy,
    pub user: UserSettings,
    /// Running against the built-in demo: nothing here is the user's.
    pub demo: bool,
    /// What this was resolved from, to resolve again after the settings change.
    pub overrides: Overrides,
}

impl Settings {
    pub fn resolve(overrides: &Overrides) -> Result<Settings, UpdateError> {
        let timeout = overrides.ca_timeout;
        if overrides.demo {
            let mut settings = Self::demo(&paths::data_dir().join("demo"), timeout)?;
            settings.overrides = overrides.clone();
            return Ok(settings);
        }
        let policy = Policy::load()?;
        let user = UserSettings::load()?;
        let locked = policy.locks_settings();
        let source = choose(
            "the release source (--source, IBEX_UPDATER_SOURCE)",
            overrides.source.clone(),
            policy.release_source.clone(),
            user.release_source.clone(),
            locked,
        )?;
        let install_root = choose(
            "the install root (--install-root, IBEX_UPDATER_INSTALL_ROOT)",
            overrides.install_root.clone(),
            policy.install_root.clone(),
            user.install_root.clone(),
            locked,
        )?;
        let instrument = choose(
            "the instrument",
            None,
            policy.instrument.clone(),
            user.instrument.clone(),
            locked,
        )?;
        let install_path = install_root
            .as_ref()
            .map_or_else(paths::default_install_root, |(root, _)| root.clone());
        let ca = CaConfig::from_env(policy.ca_addr_list.as_deref(), timeout).map_err(|e| {
            UpdateError::BadCaAddresses {
                detail: e.to_string(),
            }
        })?;
        Ok(Settings {
            source: match &source {
                Some((location, _)) => Some(open_source(
                    location,
                    &policy,
                    &user,
                    &InstallRoot::new(install_path.clone()),
                    overrides.http_timeout,
                )?),
                None => None,
            },
            source_location: source,
            install_root_origin: install_root.as_ref().map(|(_, origin)| *origin),
            install_root: InstallRoot::new(install_path),
            ca,
            instrument: instrument.map(|(name, _)| name),
            policy,
            user,
            demo: false,
            overrides: overrides.clone(),
        })
    }

    /// The demo share and install root in `dir` (generated on first use) and the simulated
    /// fleet, served on loopback for as long as the process runs.
    pub fn demo(dir: &Path, timeout: Duration) -> Result<Settings, UpdateError> {
        let demo = demo::ensure(dir)?;
        let fleet = demo_fleet::serve(0, None).map_err(|e| UpdateError::Io {
            op: "start the demo instrument fleet on",
            path: PathBuf::from("127.0.0.1"),
            cause: e,
        })?;
        Ok(Settings {
            source_location: Some((demo.share.display().to_string(), Origin::CommandLine)),
            source: Some(Arc::new(ShareSource::new(demo.share))),
            install_root: InstallRoot::new(demo.install_root),
            install_root_origin: Some(Origin::CommandLine),
            ca: CaConfig::single(fleet.search_addr(), timeout),
            instrument: None,
            policy: Policy::default(),
            user: UserSettings::default(),
            demo: true,
            overrides: Overrides {
                demo: true,
                ca_timeout: timeout,
                ..Overrides::default()
            },
        })
    }

    pub fn source(&self) -> Result<&dyn ReleaseSource, UpdateError> {
        self.source
            .as_deref()
            .ok_or_else(|| UpdateError::NoReleaseSource {
                policy: Policy::path(),
            })
    }

    /// The release source at `location` (a folder or a URL) as these settings would open it:
    /// the same keys, proxy and policy. For trying a location before it is saved.
    pub fn open_source_at(&self, location: &str) -> Result<Arc<dyn ReleaseSource>, UpdateError> {
        open_source(
            location,
            &self.policy,
            &self.user,
            &self.install_root,
            self.overrides.http_timeout,
        )
    }

    /// Whether the policy fixes this setting, so the window shows it read-only.
    pub fn is_locked(&self, origin: Option<Origin>) -> bool {
        self.policy.locks_settings() && origin == Some(Origin::Policy)
    }
}

/// What the downloads cache of an HTTP mirror may keep, in megabytes, when the policy says nothing.
pub const DEFAULT_CACHE_MB: u64 = 2048;

/// How long an HTTP mirror may keep the updater waiting for a connection or for the next bytes.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// A release source as written in settings: a share folder, or an HTTP(S) mirror's URL. Both
/// verify a signed index with the built-in keys and the policy's.
fn open_source(
    location: &str,
    policy: &Policy,
    user: &UserSettings,
    root: &InstallRoot,
    http_timeout: Duration,
) -> Result<Arc<dyn ReleaseSource>, UpdateError> {
    let trust = Trust::from_policy(policy, &paths::data_dir())?;
    if location.starts_with("http://") || location.starts_with("https://") {
        let options = HttpOptions {
            trust,
            cache: root.downloads_dir(),
            proxy: policy.proxy.clone().or_else(|| user.proxy.clone()),
            allow_http: policy.allow_http == Some(true),
            extra_ca_certs: policy.extra_ca_certs.clone(),
            cache_limit: policy
                .download_cache_mb
                .unwrap_or(DEFAULT_CACHE_MB)
                .saturating_mul(1 << 20),
            timeout: if http_timeout.is_zero() {
                DEFAULT_HTTP_TIMEOUT
            } else {
                http_timeout
            },
            retry: Retry::default(),
        };
        return Ok(Arc::new(HttpSource::new(location, options)?));
    }
    Ok(Arc::new(
        ShareSource::new(PathBuf::from(location)).with_trust(trust),
    ))
}
