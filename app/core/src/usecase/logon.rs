//! The check the MSI registers to run at every logon (`check --prompt --logon`): it asks only
//! when the machine policy turns `auto_check` on, at most once per `check_interval_hours`, about
//! the instrument named, else the policy's, else the one last used.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::client::component::Component;
use crate::client::ipython_profile::{self, ProfileStep};
use crate::clock::{from_unix_seconds, unix_seconds};
use crate::config::resolved::Settings;
use crate::fsx;
use crate::usecase::survey::{self, ServerRequest};

/// What the logon check decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logon {
    /// The machine policy does not turn `auto_check` on.
    Off,
    /// It already ran within the policy's interval.
    RanRecently(Duration),
    /// No instrument is known yet to ask about.
    NoInstrument,
    /// Go on as `check --prompt` with this request.
    Ask(ServerRequest),
}

/// genie_python's per-user step, done at every logon whatever the policy says about checks: an
/// install by IT or the MSI leaves it pending for each scientist, and their logon catches up.
pub fn catch_up_profile(settings: &Settings) -> ProfileStep {
    if settings.demo {
        return ProfileStep::Current;
    }
    ipython_profile::catch_up(&settings.install_root.component_dir(Component::GeniePython))
}

/// Decides, and records the time of a check that goes ahead in `data_dir`.
pub fn decide(
    settings: &Settings,
    request: &ServerRequest,
    data_dir: &Path,
    now: SystemTime,
) -> Logon {
    if settings.policy.auto_check != Some(true) {
        return Logon::Off;
    }
    let stamp = data_dir.join("last-logon-check.txt");
    if let Some(interval) = settings.policy.check_interval() {
        let last = fsx::read_state_capped(&stamp, fsx::cap::OWN_FILE)
            .ok()
            .flatten()
            .and_then(|t| String::from_utf8_lossy(&t).trim().parse::<u64>().ok())
            .map(from_unix_seconds);
        if last.is_some_and(|last| now.duration_since(last).is_ok_and(|d| d < interval)) {
            return Logon::RanRecently(interval);
        }
    }
    if let Err(e) = fsx::write_atomically(&stamp, unix_seconds(now).to_string().as_bytes()) {
        tracing::warn!("logon check: {e}");
    }
    let instrument = request
        .instrument
        .clone()
        .or_else(|| survey::preferred_instrument(settings, data_dir));
    if instrument.is_none() && request.server_version.is_none() {
        return Logon::NoInstrument;
    }
    Logon::Ask(ServerRequest {
        instrument,
        server_version: request.server_version.clone(),
    })
}
