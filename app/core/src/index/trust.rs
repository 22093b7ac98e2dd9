//! Which keys may sign an index, and what this user's updater has seen of each release source,
//! which an index must not go below.
//!
//! The memory (`index-serials.toml` in the user's data folder) keeps the newest serial seen of
//! each release source by its configured location, and by the source id the index names when it
//! names one, whichever key signed it: a rotated key, another source id at the same location, or
//! an index without its source id brings no older serial back. It also keeps, per location, the
//! source id and the index format seen there (neither may be taken back), and the keys learned
//! and retired through rotation statements ([`super::rotation`]). It is read, changed and written
//! under a lock, so that two updaters at once cannot lose a serial.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use minisign::PublicKey;
use serde::{Deserialize, Serialize};

use super::ReleaseIndex;
use super::rotation::KeySet;
use super::signature::{key_id, parse_public_key};
use crate::config::policy::Policy;
use crate::error::UpdateError;
use crate::fsx;

/// The release team's public keys, compiled in. `packaging/RELEASING.md` says how a key is added;
/// until then only keys listed in the machine policy's `trusted_keys` are trusted.
const BUILT_IN_KEYS: &[&str] = &[];

/// The memory's file name in the user's data folder.
pub const STORE_FILE: &str = "index-serials.toml";
/// How long a run waits for another one changing the memory.
const LOCK_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Trust {
    /// The built-in keys and the policy's.
    keys: Vec<PublicKey>,
    store: PathBuf,
    /// The policy lets this site read shares that have no signed index.
    pub allow_unsigned: bool,
}

/// What this user's updater has seen, as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Seen {
    version: u32,
    /// By the source's configured location (a share's path, a mirror's URL).
    #[serde(default)]
    locations: BTreeMap<String, AtLocation>,
    /// The newest serial of each source id.
    #[serde(default)]
    sources: BTreeMap<String, u64>,
    /// The newest serial each key has signed: what an index that names no source id must reach.
    #[serde(default)]
    keys: BTreeMap<String, u64>,
    /// Keys trusted through a rotation statement, by id: their one-line public key.
    #[serde(default)]
    learned_keys: BTreeMap<String, String>,
    /// Keys a rotation statement retired, by id: the id of the key that took over.
    #[serde(default)]
    retired_keys: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AtLocation {
    serial: u64,
    format: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

const STORE_VERSION: u32 = 2;

impl Trust {
    /// The built-in keys plus the policy's, with what was seen remembered in `data_dir`.
    pub fn from_policy(policy: &Policy, data_dir: &Path) -> Result<Trust, UpdateError> {
        let mut keys = Vec::new();
        for text in BUILT_IN_KEYS
            .iter()
            .copied()
            .chain(policy.trusted_keys.iter().map(String::as_str))
        {
            keys.push(
                parse_public_key(text).map_err(|e| UpdateError::BadTrustedKey {
                    policy: Policy::path(),
                    detail: e.to_string(),
                })?,
            );
        }
        Ok(Trust {
            keys,
            store: data_dir.join(STORE_FILE),
            allow_unsigned: policy.allow_unsigned == Some(true),
        })
    }

    /// The keys trusted now: the built-in and the policy's, and those learned through rotation
    /// statements, less those retired.
    pub fn key_set(&self) -> Result<KeySet, UpdateError> {
        let seen = self.read()?;
        let mut keys = KeySet::default();
        for key in &self.keys {
            keys.trusted.insert(key_id(key.keynum()), key.clone());
        }
        for (id, line) in &seen.learned_keys {
            let key = parse_public_key(line).map_err(|e| self.damaged(e))?;
            keys.trusted.insert(id.clone(), key);
        }
        for (id, successor) in seen.retired_keys {
            keys.trusted.remove(&id);
            keys.retired.insert(id, successor);
        }
        Ok(keys)
    }

    /// The newest serial seen at `location`, when it has served a signed index.
    pub fn seen_serial(&self, location: &str) -> Result<Option<u64>, UpdateError> {
        Ok(self.read()?.locations.get(location).map(|l| l.serial))
    }

    /// The newest index format seen at `location`.
    pub fn seen_format(&self, location: &str) -> Result<Option<u32>, UpdateError> {
        Ok(self.read()?.locations.get(location).map(|l| l.format))
    }

    /// Accepts `index`, signed by `signer` and fetched from `location`, if it is not older than
    /// anything seen of its source, and remembers it with the keys `keys` ends with.
    pub fn accept(
        &self,
        location: &str,
        index: &ReleaseIndex,
        signer: &str,
        keys: &KeySet,
    ) -> Result<(), UpdateError> {
        let _lock = self.lock()?;
        let mut seen = self.read()?;
        // Another updater may have followed a rotation since this one read the keys.
        if let Some(successor) = seen.retired_keys.get(signer) {
            return Err(UpdateError::RetiredSigningKey {
                location: location.to_string(),
                key_id: signer.to_string(),
                successor: successor.clone(),
            });
        }
        let at = seen.locations.get(location).cloned();
        if let Some(at) = &at {
            if index.format < at.format {
                return Err(UpdateError::IndexFormatDowngrade {
                    location: location.to_string(),
                    format: index.format,
                    seen: at.format,
                });
            }
            if at.source.is_some() && index.source != at.source {
                return Err(UpdateError::IndexSourceChanged {
                    location: location.to_string(),
                    seen: at.source.clone().unwrap_or_default(),
                    found: index.source.clone().unwrap_or_else(|| "none".into()),
                    store: self.store.clone(),
                });
            }
        }
        let floor = [
            at.as_ref().map(|a| a.serial),
            index
                .source
                .as_ref()
                .and_then(|s| seen.sources.get(s).copied()),
            // An index that names no source could be any source this key signs.
            index
                .source
                .is_none()
                .then(|| seen.keys.get(signer).copied())
                .flatten(),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(floor) = floor
            && index.serial < floor
        {
            return Err(UpdateError::IndexRollback {
                location: location.to_string(),
                serial: index.serial,
                seen: floor,
            });
        }
        let before = toml::to_string(&seen).unwrap_or_default();
        let entry = seen
            .locations
            .entry(location.to_string())
            .or_insert(AtLocation {
                serial: 0,
                format: index.format,
                source: None,
            });
        entry.serial = entry.serial.max(index.serial);
        entry.format = entry.format.max(index.format);
        if entry.source.is_none() {
            entry.source.clone_from(&index.source);
        }
        if let Some(source) = &index.source {
            let newest = seen.sources.entry(source.clone()).or_default();
            *newest = (*newest).max(index.serial);
        }
        let newest = seen.keys.entry(signer.to_string()).or_default();
        *newest = (*newest).max(index.serial);
        let built_in: Vec<String> = self.keys.iter().map(|k| key_id(k.keynum())).collect();
        for (id, key) in &keys.trusted {
            if !built_in.contains(id) {
                seen.learned_keys.insert(id.clone(), key.to_base64());
            }
        }
        for (id, successor) in &keys.retired {
            seen.learned_keys.remove(id);
            seen.retired_keys.insert(id.clone(), successor.clone());
        }
        seen.version = STORE_VERSION;
        let text = toml::to_string(&seen)
            .map_err(|e| UpdateError::serialize(self.store.display())(e.to_string()))?;
        if text == before {
            return Ok(());
        }
        fsx::write_atomically(&self.store, text.as_bytes())
    }

    /// What was seen. A memory that cannot be read is an error: reading it as "nothing seen
    /// yet" would let an old index back in.
    fn read(&self) -> Result<Seen, UpdateError> {
        let Some(bytes) =
            fsx::read_state_capped(&self.store, fsx::cap::OWN_FILE).map_err(|e| self.damaged(e))?
        else {
            return Ok(Seen::default());
        };
        let text = String::from_utf8(bytes).map_err(|e| self.damaged(e))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| self.damaged(e))?;
        if table.contains_key("version") {
            return toml::from_str(&text).map_err(|e| self.damaged(e));
        }
        upgrade(&table).map_err(|e| self.damaged(e))
    }

    fn damaged(&self, detail: impl std::fmt::Display) -> UpdateError {
        UpdateError::BadSerialStore {
            path: self.store.clone(),
            detail: detail.to_string(),
        }
    }

    /// Holds the memory for one read, change and write.
    fn lock(&self) -> Result<File, UpdateError> {
        let path = self.store.with_extension("lock");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(UpdateError::io("create", dir))?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(UpdateError::io("open", &path))?;
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(UpdateError::io("lock", &path)(std::io::Error::other(
                        "another ibex-updater has held it for 10 s",
                    )));
                }
                Err(TryLockError::Error(e)) => return Err(UpdateError::io("lock", &path)(e)),
            }
        }
    }
}

/// The memory as updaters before index format 2 wrote it: the newest serial by "key K" or
/// "key K, source S". A source's serial carries over to its source id, a key's to the key.
fn upgrade(table: &toml::Table) -> Result<Seen, String> {
    let mut seen = Seen {
        version: STORE_VERSION,
        ..Seen::default()
    };
    for (identity, serial) in table {
        let serial = serial
            .as_integer()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| format!("'{identity}' is not a serial"))?;
        let Some(rest) = identity.strip_prefix("key ") else {
            return Err(format!("'{identity}' is not a key"));
        };
        let (key, source) = match rest.split_once(", source ") {
            Some((key, source)) => (key, Some(source)),
            None => (rest, None),
        };
        let newest = seen.keys.entry(key.to_string()).or_default();
        *newest = (*newest).max(serial);
        if let Some(source) = source {
            let newest = seen.sources.entry(source.to_string()).or_default();
            *newest = (*newest).max(serial);
        }
    }
    Ok(seen)
}
