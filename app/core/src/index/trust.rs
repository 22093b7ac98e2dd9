//! Which keys may sign an index, and the newest serial seen of each source, which an index must
//! not go below.

use std::collections::BTreeMap;
use std::path::PathBuf;

use minisign::PublicKey;

use super::signature::parse_public_key;
use crate::config::policy::Policy;
use crate::error::UpdateError;
use crate::fsx;

/// The release team's public keys, compiled in. `packaging/RELEASING.md` says how a key is added;
/// until then only keys listed in the machine policy's `trusted_keys` are trusted.
const BUILT_IN_KEYS: &[&str] = &[];

#[derive(Debug, Clone)]
pub struct Trust {
    keys: Vec<PublicKey>,
    /// Remembers the newest serial per source location.
    serials: PathBuf,
    /// The policy lets this site read shares that have no signed index.
    pub allow_unsigned: bool,
}

impl Trust {
    /// The built-in keys plus the policy's, with serials remembered in `data_dir`.
    pub fn from_policy(policy: &Policy, data_dir: &std::path::Path) -> Result<Trust, UpdateError> {
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
            serials: data_dir.join("index-serials.toml"),
            allow_unsigned: policy.allow_unsigned == Some(true),
        })
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Refuses a serial below the newest seen of the index `identity` (its signing key and the
    /// source it names, wherever it was fetched from), and remembers a newer one. `location` is
    /// for the message.
    pub fn check_serial(
        &self,
        identity: &str,
        location: &str,
        serial: u64,
    ) -> Result<(), UpdateError> {
        let mut seen = self.seen()?;
        match seen.get(identity) {
            Some(&newest) if serial < newest => Err(UpdateError::IndexRollback {
                location: location.to_string(),
                serial,
                seen: newest,
            }),
            Some(&newest) if serial == newest => Ok(()),
            _ => {
                seen.insert(identity.to_string(), serial);
                let text = toml::to_string(&seen)
                    .map_err(|e| UpdateError::serialize(self.serials.display())(e.to_string()))?;
                fsx::write_atomically(&self.serials, text.as_bytes())
            }
        }
    }

    /// The newest serial seen of each index. A store that cannot be read is an error: reading
    /// it as "nothing seen yet" would let an old index back in.
    fn seen(&self) -> Result<BTreeMap<String, u64>, UpdateError> {
        let damaged = |detail: String| UpdateError::BadSerialStore {
            path: self.serials.clone(),
            detail,
        };
        let Some(bytes) = fsx::read_file_capped(&self.serials, fsx::cap::OWN_FILE)
            .map_err(|e| damaged(e.to_string()))?
        else {
            return Ok(BTreeMap::new());
        };
        let text = String::from_utf8(bytes).map_err(|e| damaged(e.to_string()))?;
        toml::from_str(&text).map_err(|e| damaged(e.to_string()))
    }
}
