//! Where the release source, install root, instrument and Channel Access addresses come from:
//! command line, then environment (both through clap, or EPICS_CA_* for Channel Access), then the
//! machine policy, then the user's settings, then the defaults (see `ibex_updater::settings`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ibex_updater::ca::CaConfig;
use ibex_updater::error::UpdateError;
use ibex_updater::install::InstallRoot;
use ibex_updater::policy::Policy;
use ibex_updater::settings::{UserSettings, choose};
use ibex_updater::source::ShareSource;
use ibex_updater::{demo, demo_fleet, paths};

use crate::cli::args::Cli;

#[derive(Debug)]
pub struct Settings {
    pub source: Option<ShareSource>,
    pub install_root: InstallRoot,
    /// Where instruments are searched for over Channel Access.
    pub ca: CaConfig,
    /// The instrument to ask when none is named (policy, then user settings).
    pub instrument: Option<String>,
}

impl Settings {
    pub fn resolve(cli: &Cli) -> Result<Settings> {
        let timeout = ca_timeout(cli)?;
        if cli.demo {
            let dir = paths::data_dir().join("demo");
            let demo = demo::ensure(&dir)
                .with_context(|| format!("could not set up the demo in {}", dir.display()))?;
            let fleet = demo_fleet::serve(0, None)
                .context("could not start the demo instrument fleet on loopback")?;
            return Ok(Settings {
                source: Some(ShareSource::new(demo.share)),
                install_root: InstallRoot::new(demo.install_root),
                ca: CaConfig::single(fleet.search_addr(), timeout),
                instrument: None,
            });
        }
        let policy = Policy::load()?;
        let user = UserSettings::load()?;
        let locked = policy.locks_settings();
        let source = choose(
            "the release source (--source, IBEX_UPDATER_SOURCE)",
            cli.source.clone(),
            policy.release_source.clone(),
            user.release_source,
            locked,
        )?;
        let install_root = choose(
            "the install root (--install-root, IBEX_UPDATER_INSTALL_ROOT)",
            cli.install_root.clone(),
            policy.install_root.clone(),
            user.install_root,
            locked,
        )?
        .map_or_else(paths::default_install_root, |(root, _)| root);
        let instrument = choose(
            "the instrument",
            None,
            policy.instrument.clone(),
            user.instrument,
            locked,
        )?;
        let ca = CaConfig::from_env(policy.ca_addr_list.as_deref(), timeout)
            .map_err(|e| UpdateError::Usage(e.to_string()))?;
        Ok(Settings {
            source: source.map(|(s, _)| share_source(&s)).transpose()?,
            install_root: InstallRoot::new(install_root),
            ca,
            instrument: instrument.map(|(name, _)| name),
        })
    }

    pub fn source(&self) -> Result<&ShareSource> {
        match &self.source {
            Some(source) => Ok(source),
            None => bail!(UpdateError::Usage(format!(
                "no release source is set: pass --source, set IBEX_UPDATER_SOURCE, or ask IT to set release_source in {} \
                 (try --demo to see the updater work without the ISIS network)",
                Policy::path().display()
            ))),
        }
    }
}

fn ca_timeout(cli: &Cli) -> Result<Duration> {
    match Duration::try_from_secs_f64(cli.ca_timeout) {
        Ok(timeout) if !timeout.is_zero() => Ok(timeout),
        _ => bail!(UpdateError::Usage(format!(
            "--ca-timeout {} is not a positive number of seconds",
            cli.ca_timeout
        ))),
    }
}

fn share_source(location: &str) -> Result<ShareSource> {
    if location.starts_with("http://") || location.starts_with("https://") {
        bail!(UpdateError::Usage(format!(
            "{location}: this build of ibex-updater reads release shares only; HTTP mirrors are not supported yet"
        )));
    }
    Ok(ShareSource::new(PathBuf::from(location)))
}
