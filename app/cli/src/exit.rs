//! The exit codes that IT's scripts rely on (documented in the README), and how errors and
//! verdicts map to them.

use ibex_updater_core::client::verdict::Verdict;
use ibex_updater_core::error::{ErrorKind, UpdateError};

/// The exit codes documented in the README.
pub mod code {
    pub const SUCCESS: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const INTEGRITY: u8 = 3;
    pub const SOURCE_UNREACHABLE: u8 = 4;
    pub const INSTRUMENT_UNREACHABLE: u8 = 5;
    pub const UPDATE_AVAILABLE: u8 = 10;
    pub const UPDATE_RECOMMENDED: u8 = 11;
    pub const UPDATE_REQUIRED: u8 = 12;
}

/// The code for an error: its kind, from the first core error in its chain.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    match e
        .chain()
        .find_map(|cause| cause.downcast_ref::<UpdateError>())
        .map(UpdateError::kind)
    {
        Some(ErrorKind::Integrity) => code::INTEGRITY,
        Some(ErrorKind::SourceUnreachable) => code::SOURCE_UNREACHABLE,
        Some(ErrorKind::Usage) => code::USAGE,
        Some(ErrorKind::InstrumentUnreachable) => code::INSTRUMENT_UNREACHABLE,
        Some(ErrorKind::Failure) | None => code::FAILURE,
    }
}

/// The code `check` exits with for the most urgent verdict.
pub fn verdict_code(worst: Verdict) -> u8 {
    match worst {
        Verdict::UpdateAvailable => code::UPDATE_AVAILABLE,
        Verdict::UpdateRecommended => code::UPDATE_RECOMMENDED,
        Verdict::UpdateRequired | Verdict::NotInstalled => code::UPDATE_REQUIRED,
        Verdict::UpToDate | Verdict::Development | Verdict::Unknown => code::SUCCESS,
    }
}
