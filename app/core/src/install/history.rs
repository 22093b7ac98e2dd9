//! Every install and rollback, one JSON line each in `<root>/.ibex-updater/history.jsonl`: when,
//! by whom, what changed from which version to which, and how it ended. `history` shows it, and
//! `rollback` of the whole client undoes the last transaction as the unit it was.

use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::client::component::Component;
use crate::clock;
use crate::error::UpdateError;
use crate::fsx;
use crate::install::{InstallRoot, Report};

/// What a transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Install,
    Rollback,
}

/// One component's move in a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    pub component: Component,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// One transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Seconds since the Unix epoch.
    pub time: u64,
    pub user: String,
    pub action: Action,
    pub changes: Vec<Moved>,
    /// `None` when it succeeded; else why it failed (and nothing was changed).
    pub failure: Option<String>,
}

impl Entry {
    /// The entry for a transaction that ended with `outcome`.
    pub fn of(action: Action, outcome: &Result<Report, UpdateError>) -> Entry {
        let (changes, failure) = match outcome {
            Ok(report) => (
                report
                    .changes
                    .iter()
                    .map(|c| Moved {
                        component: c.component,
                        from: c.from.as_ref().map(ToString::to_string),
                        to: c.to.as_ref().map(ToString::to_string),
                    })
                    .collect(),
                None,
            ),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        Entry {
            time: clock::unix_seconds(SystemTime::now()),
            user: current_user(),
            action,
            changes,
            failure,
        }
    }

    /// What changed, as both front ends show it: `IBEX GUI 26.2.0.1234 -> 26.2.1.1310, …`.
    pub fn changes_text(&self) -> String {
        self.changes
            .iter()
            .map(|m| {
                format!(
                    "{} {} -> {}",
                    m.component,
                    m.from.as_deref().unwrap_or("nothing"),
                    m.to.as_deref().unwrap_or("nothing")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn path(root: &InstallRoot) -> PathBuf {
    root.state_dir().join("history.jsonl")
}

fn current_user() -> String {
    ["USERNAME", "USER"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Adds `entry`. The history is a record, not part of the transaction: a failure to write it is
/// logged and never fails the install it describes. An entry that changed nothing and did not
/// fail (everything was already installed) is not recorded.
pub fn record(root: &InstallRoot, entry: &Entry) {
    if entry.changes.is_empty() && entry.failure.is_none() {
        return;
    }
    if let Err(e) = root.check_state_folders() {
        tracing::warn!("the install history is not written: {e}");
        return;
    }
    let file = path(root);
    trim(&file);
    let written = serde_json::to_string(entry)
        .map_err(std::io::Error::other)
        .and_then(|line| {
            std::fs::create_dir_all(root.state_dir())?;
            // Never through a link planted at its name.
            let mut f = fsx::open_state_for_writing(&file, true)?;
            f.write_all(format!("{line}\n").as_bytes())?;
            f.sync_all()
        });
    if let Err(e) = written {
        tracing::warn!(
            "could not add to the install history {}: {e}",
            file.display()
        );
    }
}

/// The history is kept under this size: past it, the older half goes. (Some 3,000 entries; the
/// reader's cap is far above it.)
const KEEP_BYTES: u64 = 1 << 20;

/// Drops the older half of the history once it has grown past [`KEEP_BYTES`], so that years of
/// installs never make it too large to read. Only its newer half is read to do that, so that a
/// history grown far past the reader's cap is trimmed all the same.
fn trim(file: &std::path::Path) {
    let kept = (|| -> Result<Option<Vec<u8>>, std::io::Error> {
        let Some(mut opened) = fsx::open_state(file)? else {
            return Ok(None);
        };
        let len = opened.metadata()?.len();
        if len <= KEEP_BYTES {
            return Ok(None);
        }
        opened.seek(SeekFrom::Start(len - KEEP_BYTES / 2))?;
        let deadline = clock::deadline(std::time::Duration::from_secs(30));
        let tail = fsx::read_within(opened, KEEP_BYTES / 2, deadline)?;
        // The first line read is cut: it starts after the first line end.
        let start = tail
            .iter()
            .position(|&b| b == b'\n')
            .map_or(tail.len(), |n| n + 1);
        Ok(Some(tail[start..].to_vec()))
    })();
    let written = match kept {
        Ok(Some(text)) => fsx::write_atomically(file, &text),
        Ok(None) => Ok(()),
        Err(e) => Err(UpdateError::io("read", file)(e)),
    };
    if let Err(e) = written {
        tracing::warn!("could not trim the install history {}: {e}", file.display());
    }
}

/// Every entry, oldest first. Lines that are not entries (a line cut short by a power cut) are
/// skipped with a warning.
pub fn read(root: &InstallRoot) -> Result<Vec<Entry>, UpdateError> {
    let file = path(root);
    let Some(bytes) = fsx::read_state_capped(&file, fsx::cap::OWN_FILE)? else {
        return Ok(Vec::new());
    };
    Ok(String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|line| match serde_json::from_str(line) {
            Ok(entry) => Some(entry),
            Err(e) => {
                tracing::warn!("skipping a damaged line of {}: {e}", file.display());
                None
            }
        })
        .collect())
}

/// The components the last transaction that changed anything changed; `None` when the history
/// holds none. A history that cannot be read, or that another account wrote (for a privileged
/// run), is an error: guessing would roll back a pair that was never installed together.
pub fn last_transaction(root: &InstallRoot) -> Result<Option<Vec<Component>>, UpdateError> {
    let file = path(root);
    let unusable = |detail: String| UpdateError::HistoryUnusable {
        path: file.clone(),
        detail,
    };
    if let Ok(Some(opened)) = fsx::open_state(&file)
        && let Some(uid) = opened
            .metadata()
            .ok()
            .and_then(|meta| crate::account::foreign_owner(&meta))
    {
        return Err(unusable(format!(
            "another account (uid {uid}) wrote it, and a privileged run does not act on that"
        )));
    }
    let entries = read(root).map_err(|e| unusable(e.to_string()))?;
    Ok(entries
        .into_iter()
        .rev()
        .find(|e| e.failure.is_none() && !e.changes.is_empty())
        .map(|e| e.changes.iter().map(|m| m.component).collect()))
}

/// `seconds` since the epoch as UTC text, `2026-11-25 23:10:05 UTC`.
pub fn utc_text(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rem = seconds % 86_400;
    // Howard Hinnant's days-to-civil conversion.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_text_is_the_calendar_date() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_text(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_text(1_795_648_205), "2026-11-25 23:10:05 UTC");
    }

    /// An install of the GUI at `time`.
    fn entry(time: u64) -> Entry {
        Entry {
            time,
            user: "me".into(),
            action: Action::Install,
            changes: vec![Moved {
                component: Component::IbexGui,
                from: None,
                to: Some("26.2.0.1234".into()),
            }],
            failure: None,
        }
    }

    #[test]
    fn a_long_history_keeps_its_newer_half() {
        let dir = tempfile::tempdir().unwrap();
        let root = InstallRoot::new(dir.path());
        let mut time = 0;
        while std::fs::metadata(path(&root)).map_or(0, |m| m.len()) <= KEEP_BYTES {
            time += 1;
            record(&root, &entry(time));
        }
        let before = read(&root).unwrap().len();
        record(&root, &entry(time + 1));
        let after = read(&root).unwrap();
        assert!(std::fs::metadata(path(&root)).unwrap().len() <= KEEP_BYTES);
        // The newer half, by bytes: whole lines only, the newest last.
        assert!(
            after.len().abs_diff(before / 2) <= before / 100 + 2,
            "{} of {before}",
            after.len()
        );
        assert_eq!(after.last().unwrap().time, time + 1);
        let first = after.first().unwrap().time;
        assert!(after.iter().zip(first..).all(|(e, t)| e.time == t));
    }

    #[test]
    fn a_history_past_the_readers_cap_is_trimmed_all_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let root = InstallRoot::new(dir.path());
        let line = format!("{}\n", serde_json::to_string(&entry(1)).unwrap());
        let mut big = line.repeat(usize::try_from(fsx::cap::OWN_FILE).unwrap() / line.len() + 10);
        big.push_str(&line);
        std::fs::create_dir_all(root.state_dir()).unwrap();
        std::fs::write(path(&root), big).unwrap();
        assert!(read(&root).is_err());
        assert!(
            last_transaction(&root).is_err(),
            "an unreadable history is not guessed from"
        );
        record(&root, &entry(2));
        assert!(std::fs::metadata(path(&root)).unwrap().len() <= KEEP_BYTES);
        assert_eq!(
            last_transaction(&root).unwrap(),
            Some(vec![Component::IbexGui])
        );
        assert_eq!(read(&root).unwrap().last().unwrap().time, 2);
    }

    #[test]
    fn a_damaged_line_is_skipped_and_the_rest_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = InstallRoot::new(dir.path());
        record(&root, &entry(1));
        std::fs::OpenOptions::new()
            .append(true)
            .open(path(&root))
            .unwrap()
            .write_all(b"{\"time\": 2, \"us")
            .unwrap();
        assert_eq!(read(&root).unwrap(), vec![entry(1)]);
        assert_eq!(
            last_transaction(&root).unwrap(),
            Some(vec![Component::IbexGui])
        );
    }
}
