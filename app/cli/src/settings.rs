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

/// The longest any wait may be set to: a day is longer than anyone means to wait, and beyond
/// some point a duration no longer fits the clock.
const MAX_SECONDS: f64 = 86_400.0;

/// A timeout in seconds: above 0 and at most a day.
pub fn positive_seconds(flag: &'static str, seconds: f64) -> Result<Duration, UpdateError> {
    match Duration::try_from_secs_f64(seconds) {
        Ok(timeout) if !timeout.is_zero() && seconds <= MAX_SECONDS => Ok(timeout),
        _ => Err(UpdateError::InvalidNumber {
            flag,
            value: seconds.to_string(),
            expected: "a number of seconds above 0 and at most 86400 (a day)",
        }),
    }
}

/// A wait in whole seconds: at most a day.
pub fn seconds(flag: &'static str, seconds: u64) -> Result<Duration, UpdateError> {
    if seconds as f64 > MAX_SECONDS {
        return Err(UpdateError::InvalidNumber {
            flag,
            value: seconds.to_string(),
            expected: "a number of seconds of at most 86400 (a day)",
        });
    }
    Ok(Duration::from_secs(seconds))
}

/// How long a published index stays valid: up to ten years (0 makes one that has expired
/// already, to test what updaters do with it).
pub fn valid_days(days: u64) -> Result<Duration, UpdateError> {
    if days > 3650 {
        return Err(UpdateError::InvalidNumber {
            flag: "--valid-days",
            value: days.to_string(),
            expected: "a number of days from 0 to 3650",
        });
    }
    Ok(Duration::from_secs(days * 86_400))
}
