//! Times as the index and the per-user files store them: whole seconds since the Unix epoch.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The moment `after` from now. However long `after` is, this never panics: past what the clock
/// can hold, it is a century from now, which is "for ever" to any wait.
pub fn deadline(after: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(after)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The time `seconds` after the Unix epoch; past what the clock can hold (a damaged or hostile
/// file's number), the furthest time it can, never a panic.
pub fn from_unix_seconds(seconds: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(seconds))
        .or_else(|| UNIX_EPOCH.checked_add(Duration::from_secs(i64::MAX as u64 / 2)))
        .unwrap_or(UNIX_EPOCH)
}
