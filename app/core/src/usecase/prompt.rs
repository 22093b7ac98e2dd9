//! What the mismatch pop-up (`check --prompt`) decides, and what it remembers per user: the
//! versions a user chose to skip, and when to remind them after "Remind me later".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::client::verdict::Verdict;
use crate::clock::unix_seconds;
use crate::config::paths;
use crate::error::UpdateError;
use crate::fsx;
use crate::usecase::status::Status;

/// How long "Remind me later" waits when the policy sets no check interval.
pub const DEFAULT_REMIND_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Per instrument: the server release skipped, and the time (Unix seconds) before which not to ask.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct PromptMemory {
    #[serde(default)]
    pub skipped: BTreeMap<String, String>,
    #[serde(default)]
    pub remind_after: BTreeMap<String, u64>,
}

/// Whether to show the pop-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Ask {
        /// A required (major) mismatch cannot be skipped.
        can_skip: bool,
    },
    Quiet(Quiet),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quiet {
    /// Nothing to update, or nothing known that could be acted on.
    Matches,
    /// The user skipped this server release.
    Skipped,
    /// The user asked to be reminded later, and it is not later yet.
    Postponed,
}

impl PromptMemory {
    pub fn path() -> PathBuf {
        paths::data_dir().join("prompt.toml")
    }

    /// A damaged file only costs the user one extra question, so it reads as empty.
    pub fn load_from(path: &Path) -> PromptMemory {
        let Ok(Some(bytes)) = fsx::read_state_capped(path, fsx::cap::OWN_FILE) else {
            return PromptMemory::default();
        };
        let text = String::from_utf8_lossy(&bytes);
        toml::from_str(&text).unwrap_or_else(|e| {
            tracing::warn!("ignoring {}: {e}", path.display());
            PromptMemory::default()
        })
    }

    pub fn save_to(&self, path: &Path) -> Result<(), UpdateError> {
        let text = toml::to_string(self)
            .map_err(|e| UpdateError::serialize(path.display())(e.to_string()))?;
        fsx::write_atomically(path, text.as_bytes())
    }

    pub fn skip(&mut self, instrument: &str, status: &Status) {
        if let Some(release) = server_release(status) {
            self.skipped.insert(instrument.to_string(), release);
        }
    }

    pub fn remind_later(&mut self, instrument: &str, now: SystemTime, wait: Duration) {
        self.remind_after
            .insert(instrument.to_string(), unix_seconds(now + wait));
    }

    /// After an update the question is answered: forget what was put off.
    pub fn forget(&mut self, instrument: &str) {
        self.skipped.remove(instrument);
        self.remind_after.remove(instrument);
    }
}

/// Decides whether to ask the user about `instrument`'s `status` now.
pub fn decide(
    status: &Status,
    instrument: &str,
    memory: &PromptMemory,
    now: SystemTime,
) -> Decision {
    let worst = status.worst();
    if worst.severity() == 0 {
        return Decision::Quiet(Quiet::Matches);
    }
    let required = matches!(worst, Verdict::UpdateRequired | Verdict::NotInstalled);
    if !required
        && server_release(status).is_some_and(|r| memory.skipped.get(instrument) == Some(&r))
    {
        return Decision::Quiet(Quiet::Skipped);
    }
    if memory
        .remind_after
        .get(instrument)
        .is_some_and(|&after| unix_seconds(now) < after)
    {
        return Decision::Quiet(Quiet::Postponed);
    }
    Decision::Ask {
        can_skip: !required,
    }
}

/// The server's release (build number left out): skipping covers every build of it.
fn server_release(status: &Status) -> Option<String> {
    status
        .server
        .as_ref()
        .map(|v| format!("{}.{}.{}", v.major(), v.minor(), v.patch()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::component::Component;
    use crate::usecase::status::ComponentStatus;

    fn status(server: &str, verdict: Verdict) -> Status {
        Status {
            server: Some(server.parse().unwrap()),
            components: vec![ComponentStatus {
                component: Component::IbexGui,
                installed: None,
                target: None,
                verdict,
                library: None,
            }],
            profile_pending: false,
        }
    }

    const NOW: Duration = Duration::from_secs(1_800_000_000);

    fn now() -> SystemTime {
        std::time::UNIX_EPOCH + NOW
    }

    #[test]
    fn a_matching_client_is_never_asked_about() {
        for verdict in [Verdict::UpToDate, Verdict::Development, Verdict::Unknown] {
            let decision = decide(
                &status("26.2.0.1", verdict),
                "LARMOR",
                &PromptMemory::default(),
                now(),
            );
            assert_eq!(decision, Decision::Quiet(Quiet::Matches), "{verdict}");
        }
    }

    #[test]
    fn a_skipped_release_stays_quiet_until_the_server_moves_on() {
        let mut memory = PromptMemory::default();
        let old = status("26.2.0.1234", Verdict::UpdateRecommended);
        assert_eq!(
            decide(&old, "LARMOR", &memory, now()),
            Decision::Ask { can_skip: true }
        );
        memory.skip("LARMOR", &old);
        assert_eq!(
            decide(&old, "LARMOR", &memory, now()),
            Decision::Quiet(Quiet::Skipped)
        );
        // Another build of the same release is still skipped; another instrument is not.
        let rebuilt = status("26.2.0.1299", Verdict::UpdateRecommended);
        assert_eq!(
            decide(&rebuilt, "LARMOR", &memory, now()),
            Decision::Quiet(Quiet::Skipped)
        );
        assert_eq!(
            decide(&old, "ZOOM", &memory, now()),
            Decision::Ask { can_skip: true }
        );
        let newer = status("26.8.0.1500", Verdict::UpdateRecommended);
        assert_eq!(
            decide(&newer, "LARMOR", &memory, now()),
            Decision::Ask { can_skip: true }
        );
    }

    #[test]
    fn a_required_update_cannot_be_skipped() {
        let required = status("26.2.0.1234", Verdict::UpdateRequired);
        let mut memory = PromptMemory::default();
        assert_eq!(
            decide(&required, "LARMOR", &memory, now()),
            Decision::Ask { can_skip: false }
        );
        // Even a skip written by hand (or by an older, recommended prompt) does not silence it.
        memory.skip("LARMOR", &required);
        assert_eq!(
            decide(&required, "LARMOR", &memory, now()),
            Decision::Ask { can_skip: false }
        );
    }

    #[test]
    fn remind_later_waits_then_asks_again() {
        let mismatch = status("26.2.0.1234", Verdict::UpdateRequired);
        let mut memory = PromptMemory::default();
        memory.remind_later("LARMOR", now(), Duration::from_secs(3600));
        let soon = now() + Duration::from_secs(3599);
        let later = now() + Duration::from_secs(3600);
        assert_eq!(
            decide(&mismatch, "LARMOR", &memory, soon),
            Decision::Quiet(Quiet::Postponed)
        );
        assert_eq!(
            decide(&mismatch, "LARMOR", &memory, later),
            Decision::Ask { can_skip: false }
        );
        memory.forget("LARMOR");
        assert_eq!(memory, PromptMemory::default());
    }

    #[test]
    fn memory_round_trips_and_a_damaged_file_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prompt.toml");
        let mut memory = PromptMemory::default();
        memory.skip("LARMOR", &status("26.2.0.1", Verdict::UpdateAvailable));
        memory.remind_later("ZOOM", now(), Duration::from_secs(60));
        memory.save_to(&path).unwrap();
        assert_eq!(PromptMemory::load_from(&path), memory);
        std::fs::write(&path, "skipped = 7").unwrap();
        assert_eq!(PromptMemory::load_from(&path), PromptMemory::default());
    }
}
