//! Moving the release team to a new signing key, as TUF's chain of root documents does, made
//! small: a rotation statement names the key it retires and the key that takes over, and is
//! signed by the key it retires. Every index carries the chain of statements since the first key,
//! so a machine that trusts any key of the chain, however many rotations it slept through,
//! follows the chain to the current key, and refuses the retired keys from then on.

use std::collections::BTreeMap;
use std::path::Path;

use minisign::PublicKey;
use serde::{Deserialize, Serialize};

use super::signature::{self, key_id};
use crate::error::UpdateError;

/// One move from a key to the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotation {
    /// The retired key's id, as minisign prints it.
    pub from: String,
    /// The new public key, in minisign's one-line (base64) form.
    pub to: String,
    /// The retired key's minisign signature of [`statement`]`(from, to)`.
    pub signature: String,
}

/// What the retired key signs: which key it retires and which takes over.
pub fn statement(from: &str, to: &str) -> String {
    format!("ibex-updater key rotation\nretire {from}\ntrust {to}\n")
}

impl KeyRotation {
    /// Signs the move from the key in `old_secret` to `new_key`.
    pub fn sign(old_secret: &Path, new_key: &PublicKey) -> Result<KeyRotation, UpdateError> {
        let old = signature::public_key_of(old_secret)?;
        let (from, to) = (key_id(old.keynum()), new_key.to_base64());
        let signature = signature::sign(
            statement(&from, &to).as_bytes(),
            old_secret,
            &format!(
                "ibex-updater: key {from} retired for {}",
                key_id(new_key.keynum())
            ),
        )?;
        Ok(KeyRotation {
            from,
            to,
            signature,
        })
    }

    pub fn validate(&self) -> Result<(), String> {
        // As minisign prints key ids: 16 upper-case hex digits.
        if self.from.len() != 16
            || !self
                .from
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'))
        {
            return Err(format!(
                "a key rotation names '{}', which is not a key id",
                self.from.escape_debug()
            ));
        }
        let to = self.new_key()?;
        if key_id(to.keynum()) == self.from {
            return Err(format!("a key rotation moves key {} to itself", self.from));
        }
        if self.signature.len() > 4096 {
            return Err("a key rotation's signature is far too long".into());
        }
        Ok(())
    }

    fn new_key(&self) -> Result<PublicKey, String> {
        PublicKey::from_base64(&self.to).map_err(|e| format!("a key rotation's new key: {e}"))
    }
}

/// The keys a machine trusts now, and those it has seen retired (by id, with their successor).
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    pub trusted: BTreeMap<String, PublicKey>,
    pub retired: BTreeMap<String, String>,
}

impl KeySet {
    /// Follows `chain` from the keys trusted now: each statement signed by a trusted key retires
    /// it and trusts the key it names. Statements that start from a key not trusted here (an
    /// older link this machine has already followed, or another chain) are passed over; a
    /// statement from a trusted key that does not verify refuses the whole index.
    pub fn follow(&mut self, chain: &[KeyRotation], location: &str) -> Result<(), UpdateError> {
        for rotation in chain {
            let Some(from) = self.trusted.get(&rotation.from).cloned() else {
                continue;
            };
            let text = statement(&rotation.from, &rotation.to);
            signature::verify(text.as_bytes(), &rotation.signature, &[from], location).map_err(
                |e| UpdateError::BadIndexSignature {
                    location: location.to_string(),
                    detail: format!("its rotation of key {}: {e}", rotation.from),
                },
            )?;
            let to = rotation.new_key().map_err(|detail| UpdateError::BadIndex {
                location: location.to_string(),
                detail,
            })?;
            let to_id = key_id(to.keynum());
            self.trusted.remove(&rotation.from);
            self.retired.insert(rotation.from.clone(), to_id.clone());
            if !self.retired.contains_key(&to_id) {
                self.trusted.insert(to_id, to);
            }
        }
        Ok(())
    }
}
