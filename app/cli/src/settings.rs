//! Turns the command line into the core's settings overrides (see `ibex_updater_core::config::resolved`).

use std::time::Duration;

use anyhow::Result;
use ibex_updater_core::config::resolved::{Overrides, Settings};
use ibex_updater_core::error::UpdateError;

use crate::args::Cli;

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

fn positive_seconds(flag: &'static str, seconds: f64) -> Result<Duration, UpdateError> {
    match Duration::try_from_secs_f64(seconds) {
        Ok(timeout) if !timeout.is_zero() => Ok(timeout),
        _ => Err(UpdateError::InvalidSeconds {
            flag,
            value: seconds.to_string(),
        }),
    }
}
