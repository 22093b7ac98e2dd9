//! Times as the index and the per-user files store them: whole seconds since the Unix epoch.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub fn from_unix_seconds(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}
