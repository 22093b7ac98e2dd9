//! Turns the command line into the core's settings overrides (see `ibex_updater::effective`).

use std::time::Duration;

use anyhow::Result;
use ibex_updater::effective::{Overrides, Settings};
use ibex_updater::error::UpdateError;

use crate::cli::args::Cli;

pub fn resolve(cli: &Cli) -> Result<Settings> {
    Ok(Settings::resolve(&overrides(cli)?)?)
}

pub fn overrides(cli: &Cli) -> Result<Overrides, UpdateError> {
    Ok(Overrides {
        source: cli.source.clone(),
        install_root: cli.install_root.clone(),
        ca_timeout: positive_seconds("--ca-timeout", cli.ca_timeout)?,
        http_timeout: positive_seconds("--http-timeout", cli.http_timeout)?,
        demo: cli.demo,
    })
}

fn positive_seconds(flag: &str, seconds: f64) -> Result<Duration, UpdateError> {
    match Duration::try_from_secs_f64(seconds) {
        Ok(timeout) if !timeout.is_zero() => Ok(timeout),
        _ => Err(UpdateError::Usage(format!(
            "{flag} {seconds} is not a positive number of seconds"
        ))),
    }
}
