//! The swap, and how an interrupted one is put right.
//!
//! Before the first rename the journal is written (atomically: temp file, fsync, rename). Each
//! component's swap is two renames: the installed folder moves aside, then the incoming folder
//! moves in. Once every component is in, the journal says `committed` and the aside folders
//! become the `previous` versions. A process killed anywhere in between leaves a journal from
//! which the next run either undoes the swap (not yet committed: every component goes back to its
//! old version) or finishes it (committed), so the client is never a mix of two releases.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::UpdateError;
use crate::fsx::{self, rename, sync_dir, write_atomically};
use crate::install::layout::{InstallRoot, Part};
use crate::install::{checkpoint, trash};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TxState {
    Swapping,
    Committed,
}

/// One folder's part in a swap.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Move {
    #[serde(rename = "component")]
    pub part: Part,
    /// The live folder (`<root>/Client_E4`).
    pub installed: PathBuf,
    /// The folder that replaces it: a staged tree, or for a rollback the previous version.
    pub incoming: PathBuf,
    /// Where the live folder waits until the swap is committed.
    pub aside: PathBuf,
    /// Where the replaced version is kept for `rollback`.
    pub previous: PathBuf,
    /// Whether there was a live folder to move aside.
    pub had_old: bool,
    /// Where older versions are kept for switching, when more than the previous one are kept.
    #[serde(default)]
    pub kept: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    pub tx: String,
    pub state: TxState,
    pub moves: Vec<Move>,
    /// Trees of each component to keep, the installed one included.
    #[serde(default = "default_keep")]
    pub keep: usize,
}

fn default_keep() -> usize {
    super::DEFAULT_KEEP
}

impl Journal {
    /// The journal at `path`, if there is one, with the account that wrote it when a privileged
    /// run must not act on it ([`crate::account::foreign_owner`]).
    pub fn read(path: &Path) -> Result<Option<(Journal, Option<u32>)>, UpdateError> {
        let bad = |detail: String| UpdateError::BadJournal {
            path: path.to_path_buf(),
            detail,
        };
        let Some(file) = fsx::open_state(path).map_err(|e| bad(e.to_string()))? else {
            return Ok(None);
        };
        let owner = file
            .metadata()
            .ok()
            .and_then(|meta| crate::account::foreign_owner(&meta));
        let deadline = crate::clock::deadline(std::time::Duration::from_secs(30));
        let text = fsx::read_within(file, fsx::cap::OWN_FILE + 1, deadline)
            .map_err(|e| bad(e.to_string()))?;
        if text.len() as u64 > fsx::cap::OWN_FILE {
            return Err(bad(format!(
                "it is larger than {} bytes",
                fsx::cap::OWN_FILE
            )));
        }
        let journal = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
        Ok(Some((journal, owner)))
    }

    /// Why the journal names something other than the updater's own folders under `root`, if it
    /// does: anyone who can write the install root could have written it, and recovery renames
    /// what it names.
    pub fn refusal(&self, root: &InstallRoot) -> Option<String> {
        let plain = |name: &str| {
            !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', ':'])
        };
        if !self.tx.starts_with("tx-") || !plain(&self.tx) {
            return Some(format!(
                "its transaction '{}' is not one the updater names",
                self.tx.escape_debug()
            ));
        }
        let tx_dir = root.staging_dir().join(&self.tx);
        for m in &self.moves {
            let part = m.part;
            let incoming_is_ours = m.incoming == tx_dir.join(part.id())
                || m.incoming == root.previous_dir(part)
                || (m.incoming.parent() == Some(root.kept_dir(part).as_path())
                    && m.incoming
                        .file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(plain));
            let ours = m.installed == root.component_dir(part)
                && m.aside == tx_dir.join(format!("{}.old", part.id()))
                && m.previous == root.previous_dir(part)
                && m.kept.as_ref().is_none_or(|k| *k == root.kept_dir(part))
                && incoming_is_ours;
            if !ours {
                return Some(format!(
                    "its move of {part} names folders outside the updater's own under {}",
                    root.path().display()
                ));
            }
        }
        None
    }

    pub fn write(&self, path: &Path) -> Result<(), UpdateError> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| UpdateError::BadJournal {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        write_atomically(path, &text)
    }
}

/// Moves every component in. On failure, puts every component back before returning the error.
pub fn swap_in(root: &InstallRoot, journal: &Journal) -> Result<(), UpdateError> {
    let result = journal.moves.iter().try_for_each(|m| {
        if m.had_old {
            rename(&m.installed, &m.aside)?;
        }
        checkpoint::reach(&format!("swap:{}:old-aside", m.part.id()))?;
        rename(&m.incoming, &m.installed)?;
        checkpoint::reach(&format!("swap:{}:new-in", m.part.id()))
    });
    if let Err(e) = result {
        tracing::warn!("swap failed ({e}); putting the previous version back");
        undo(journal)?;
        fsx::remove_file(&root.journal_path())?;
        return Err(e);
    }
    sync_dir(root.path());
    Ok(())
}

/// Marks the swap committed and keeps the replaced versions for rollback.
pub fn commit(root: &InstallRoot, journal: &mut Journal, tx_dir: &Path) -> Result<(), UpdateError> {
    journal.state = TxState::Committed;
    journal.write(&root.journal_path())?;
    checkpoint::reach("committed")?;
    finish(journal, tx_dir)?;
    // The superseded version is in the transaction's folder: deleted later, not now.
    trash::discard(root, tx_dir)?;
    fsx::remove_file(&root.journal_path())?;
    checkpoint::reach("cleaned")
}

/// Puts every component back to the version it had before the swap. Safe to run again.
fn undo(journal: &Journal) -> Result<(), UpdateError> {
    for m in journal.moves.iter().rev() {
        let new_is_in = if m.had_old {
            m.aside.exists()
        } else {
            !m.incoming.exists()
        };
        if new_is_in && m.installed.exists() {
            rename(&m.installed, &m.incoming)?;
        }
        if m.had_old && m.aside.exists() {
            rename(&m.aside, &m.installed)?;
        }
    }
    Ok(())
}

/// Turns the aside folders into the previous versions. Safe to run again.
fn finish(journal: &Journal, tx_dir: &Path) -> Result<(), UpdateError> {
    for m in &journal.moves {
        if m.aside.exists() {
            if m.previous.exists() {
                keep_or_discard(m, journal.keep, tx_dir)?;
            }
            if let Some(parent) = m.previous.parent() {
                fs::create_dir_all(parent).map_err(UpdateError::io("create", parent))?;
            }
            rename(&m.aside, &m.previous)?;
        }
        checkpoint::reach(&format!("previous-kept:{}", m.part.id()))?;
    }
    Ok(())
}

/// Moves the version `rollback` would have restored out of the way of the newly replaced one: into
/// the kept folder when more trees are kept, else into the transaction's folder to be deleted.
/// Kept trees beyond the number asked for go too, oldest first.
fn keep_or_discard(m: &Move, keep: usize, tx_dir: &Path) -> Result<(), UpdateError> {
    let discard = |n: usize| tx_dir.join(format!("{}.discard-{n}", m.part.id()));
    let Some(kept) = m.kept.as_ref().filter(|_| keep > super::DEFAULT_KEEP) else {
        return rename(&m.previous, &discard(0));
    };
    fs::create_dir_all(kept).map_err(UpdateError::io("create", kept))?;
    let mut names = kept_trees(kept);
    let sequence = names
        .last()
        .and_then(|(n, _)| n.split('-').next()?.parse::<u64>().ok())
        .map_or(0, |n| n + 1);
    let version = crate::client::version_file::installed(&m.previous)
        .map_or_else(|| "unknown".to_string(), |v| v.to_string());
    let name = format!("{sequence:08}-{version}");
    let path = kept.join(&name);
    rename(&m.previous, &path)?;
    names.push((name, path));
    let excess = names.len().saturating_sub(keep - super::DEFAULT_KEEP);
    for (n, (_, path)) in names.into_iter().take(excess).enumerate() {
        rename(&path, &discard(n + 1))?;
    }
    Ok(())
}

/// The trees in a kept folder, oldest first.
pub fn kept_trees(kept: &Path) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = fs::read_dir(kept)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    found.sort();
    found
}

/// Moves a journal the updater will not act on out of the way, to `journal.json.set-aside-<time>`
/// for IT to look at, and says why. Nothing it names is moved.
fn set_aside(journal: &Path, why: &str) -> Result<String, UpdateError> {
    let stamp = crate::clock::unix_seconds(std::time::SystemTime::now());
    let aside = journal.with_extension(format!("json.set-aside-{stamp}"));
    rename(journal, &aside)?;
    Ok(format!(
        "set aside {} (now {}) and moved nothing it names: {why}",
        journal.display(),
        aside.display()
    ))
}

/// Puts right whatever an interrupted run left behind, and says what it found.
/// The caller holds the install lock.
pub fn recover(root: &InstallRoot) -> Result<Vec<String>, UpdateError> {
    let mut notes = Vec::new();
    let journal_path = root.journal_path();
    let read = match Journal::read(&journal_path) {
        Ok(read) => read,
        Err(e) => {
            notes.push(set_aside(&journal_path, &e.to_string())?);
            None
        }
    };
    let trusted = match read {
        Some((journal, None)) => match journal.refusal(root) {
            Some(why) => {
                notes.push(set_aside(&journal_path, &why)?);
                None
            }
            None => Some(journal),
        },
        Some((_, Some(uid))) => {
            let why = format!(
                "it was written by another account (uid {uid}), and a privileged run does not act on what another account left; run the updater as that account to finish it"
            );
            notes.push(set_aside(&journal_path, &why)?);
            None
        }
        None => None,
    };
    if let Some(journal) = trusted {
        let names = journal
            .moves
            .iter()
            .map(|m| m.part.to_string())
            .collect::<Vec<_>>()
            .join(" and ");
        let tx_dir = root.staging_dir().join(&journal.tx);
        match journal.state {
            TxState::Swapping => {
                undo(&journal)?;
                notes.push(format!(
                    "found an install of {names} that was interrupted while swapping; restored the version that was installed before"
                ));
            }
            TxState::Committed => {
                finish(&journal, &tx_dir)?;
                notes.push(format!(
                    "found an install of {names} that was interrupted after it was complete; finished tidying up"
                ));
            }
        }
        fsx::remove_file(&journal_path)?;
    }
    let staging = root.staging_dir();
    if let Ok(entries) = fs::read_dir(&staging) {
        for entry in entries.flatten() {
            let path = entry.path();
            trash::discard(root, &path)?;
            notes.push(format!(
                "set aside the leftovers of an interrupted install from {} to be deleted",
                path.display()
            ));
        }
    }
    for note in &notes {
        tracing::warn!("{note}");
    }
    Ok(notes)
}
