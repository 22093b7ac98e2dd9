//! Where the release source, install root and Channel Access addresses come from: command line,
//! then environment (both through clap, or EPICS_CA_* for Channel Access), then the machine policy
//! file, then the defaults.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ibex_updater::ca::CaConfig;
use ibex_updater::error::UpdateError;
use ibex_updater::install::InstallRoot;
use ibex_updater::policy::Policy;
use ibex_updater::source::ShareSource;
use ibex_updater::{demo, demo_fleet, paths};

use crate::cli::args::Cli;

#[derive(Debug)]
pub struct Settings {
    pub source: Option<ShareSource>,
    pub install_root: InstallRoot,
    /// Where instruments are searched for over Channel Access.
    pub ca: CaConfig,
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
            });
        }
        let policy = Policy::load()?;
        let source = cli.source.clone().or(policy.release_source);
        let install_root = cli
            .install_root
            .clone()
            .or(policy.install_root)
            .unwrap_or_else(paths::default_install_root);
        let ca = CaConfig::from_env(policy.ca_addr_list.as_deref(), timeout)
            .map_err(|e| UpdateError::Usage(e.to_string()))?;
        Ok(Settings {
            source: source.as_deref().map(share_source).transpose()?,
            install_root: InstallRoot::new(install_root),
            ca,
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
