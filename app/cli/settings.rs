//! Where the release source and install root come from: command line, then environment (both
//! through clap), then the machine policy file, then the defaults.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use ibex_updater::demo;
use ibex_updater::install::InstallRoot;
use ibex_updater::paths;
use ibex_updater::policy::Policy;
use ibex_updater::source::ShareSource;

use crate::cli::args::Cli;

#[derive(Debug)]
pub struct Settings {
    pub source: Option<ShareSource>,
    pub install_root: InstallRoot,
}

impl Settings {
    pub fn resolve(cli: &Cli) -> Result<Settings> {
        if cli.demo {
            let dir = paths::data_dir().join("demo");
            let demo = demo::ensure(&dir)
                .with_context(|| format!("could not set up the demo in {}", dir.display()))?;
            return Ok(Settings {
                source: Some(ShareSource::new(demo.share)),
                install_root: InstallRoot::new(demo.install_root),
            });
        }
        let policy = Policy::load()?;
        let source = cli.source.clone().or(policy.release_source);
        let install_root = cli
            .install_root
            .clone()
            .or(policy.install_root)
            .unwrap_or_else(paths::default_install_root);
        Ok(Settings {
            source: source.as_deref().map(share_source).transpose()?,
            install_root: InstallRoot::new(install_root),
        })
    }

    pub fn source(&self) -> Result<&ShareSource> {
        match &self.source {
            Some(source) => Ok(source),
            None => bail!(ibex_updater::error::UpdateError::Usage(format!(
                "no release source is set: pass --source, set IBEX_UPDATER_SOURCE, or ask IT to set release_source in {} \
                 (try --demo to see the updater work without the ISIS network)",
                Policy::path().display()
            ))),
        }
    }
}

fn share_source(location: &str) -> Result<ShareSource> {
    if location.starts_with("http://") || location.starts_with("https://") {
        bail!(ibex_updater::error::UpdateError::Usage(format!(
            "{location}: this build of ibex-updater reads release shares only; HTTP mirrors are not supported yet"
        )));
    }
    Ok(ShareSource::new(PathBuf::from(location)))
}
