//! `ibex-updater publish`: the release team's signed index of a share, in format 2.
//!
//! - A publish reads only what is new: a kit whose archive the previous index recorded at the
//!   same path, size and modification time is carried over, its manifest file with it; a new or
//!   changed archive is read once (hashed and listed in the same pass) and reported.
//! - `--refresh` signs the previous index again with a new serial and expiry, reading no archive.
//! - `--audit` reads every archive again and reports each kit whose archive no longer matches
//!   what was published; it writes nothing.
//! - `--rotate-from OLD_KEY` moves the index to a new signing key: the old key signs a rotation
//!   statement, which every later index carries.

mod audit;
mod kits;
mod previous;
mod updater_builds;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

pub use audit::{AuditedKit, KitAudit, audit};
pub use kits::HowListed;

use crate::client::component::Component;
use crate::clock::unix_seconds;
use crate::error::UpdateError;
use crate::fsx;
use crate::index::rotation::KeyRotation;
use crate::index::signature::{self, key_id};
use crate::index::{FORMAT, INDEX_FILE, IndexRelease, ReleaseIndex, SIGNATURE_FILE};
use crate::source::{ReleaseSource, ShareSource};

#[derive(Debug, Clone)]
pub struct PublishOptions {
    pub share: PathBuf,
    /// The secret key to sign with.
    pub key: PathBuf,
    /// Where index.json, its signature and the manifests go (the share itself, or a mirror's
    /// folder).
    pub out: PathBuf,
    /// Defaults to one more than the index already in `out`, or 1.
    pub serial: Option<u64>,
    /// A name for the release source (see [`ReleaseIndex::source`]); kept from the previous
    /// index when not given.
    pub source_id: Option<String>,
    pub valid_for: Duration,
    /// The secret key the previous index was signed with, when the release team is moving to
    /// `key`: it signs the rotation statement.
    pub rotate_from: Option<PathBuf>,
}

/// What a publish did.
#[derive(Debug)]
pub struct Published {
    pub index: ReleaseIndex,
    /// Each kit listed, and how.
    pub kits: Vec<(String, Component, HowListed)>,
    /// Bytes read from archives.
    pub bytes_read: u64,
    /// The rotation this publish added: from one key id to another.
    pub rotated: Option<(String, String)>,
}

/// Writes `index.json`, `index.json.minisig` and any new manifest for every complete kit of the
/// share, carrying over what the previous index already lists.
pub fn publish(options: &PublishOptions, now: SystemTime) -> Result<Published, UpdateError> {
    let serial = next_serial(options)?;
    let (previous, chain, rotated) = previous_and_chain(options)?;
    let source = ShareSource::new(&options.share);
    let mut releases = Vec::new();
    let mut report = Vec::new();
    let mut bytes_read = 0;
    for release in source.read_catalog()?.releases {
        let name = release.name.to_string();
        let mut listed_kits = Vec::new();
        for kit in release.kits.iter().filter(|k| k.is_complete()) {
            let Some(version) = &kit.version else {
                continue;
            };
            let listed = kits::list(&options.share, kit, version, &name, previous.as_ref())?;
            if let (Some(bytes), crate::index::ListedManifest::File(manifest)) =
                (&listed.new_manifest, &listed.kit.manifest)
            {
                previous::write_manifest(&options.out, manifest, bytes)?;
            }
            bytes_read += listed.bytes_read;
            report.push((name.clone(), kit.component, listed.how));
            listed_kits.push(listed.kit);
        }
        if !listed_kits.is_empty() {
            releases.push(IndexRelease {
                name,
                kits: listed_kits,
            });
        }
    }
    let before = previous.as_ref().map(|p| &p.index);
    let index = ReleaseIndex {
        format: FORMAT,
        serial,
        source: options
            .source_id
            .clone()
            .or_else(|| before.and_then(|p| p.source.clone())),
        published: unix_seconds(now),
        expires: expiry(now, options.valid_for),
        releases,
        updater: updater_builds::list(&options.share, before)?,
        rotations: chain,
    };
    write(options, &index)?;
    previous::remove_unlisted_manifests(&options.out, &index, before);
    Ok(Published {
        index,
        kits: report,
        bytes_read,
        rotated,
    })
}

/// Signs the previous index again with a new serial and expiry (and a rotation, if asked for),
/// reading no archive: what keeps a share signed between releases.
pub fn refresh(options: &PublishOptions, now: SystemTime) -> Result<Published, UpdateError> {
    let serial = next_serial(options)?;
    let (previous, chain, rotated) = previous_and_chain(options)?;
    let Some(previous) = previous else {
        return Err(UpdateError::CannotPublish {
            what: "refresh the index",
            detail: format!(
                "there is no {INDEX_FILE} in {} to refresh; publish it first",
                options.out.display()
            ),
        });
    };
    if previous.index.format != FORMAT {
        return Err(UpdateError::CannotPublish {
            what: "refresh the index",
            detail: format!(
                "the index in {} is in format {}: publish it once without --refresh to write format {FORMAT}",
                options.out.display(),
                previous.index.format
            ),
        });
    }
    let mut index = previous.index;
    if let Some(source) = &options.source_id {
        index.source = Some(source.clone());
    }
    index.serial = serial;
    index.published = unix_seconds(now);
    index.expires = expiry(now, options.valid_for);
    index.rotations = chain;
    write(options, &index)?;
    let kits = index
        .releases
        .iter()
        .flat_map(|r| {
            r.kits
                .iter()
                .map(|k| (r.name.clone(), k.component, HowListed::Carried))
        })
        .collect();
    Ok(Published {
        index,
        kits,
        bytes_read: 0,
        rotated,
    })
}

fn expiry(now: SystemTime, valid_for: Duration) -> u64 {
    unix_seconds(now.checked_add(valid_for).unwrap_or(now))
}

fn next_serial(options: &PublishOptions) -> Result<u64, UpdateError> {
    let previous = previous::serial(&options.out);
    match (options.serial, previous) {
        (Some(serial), Some(previous)) if serial <= previous => {
            Err(UpdateError::SerialNotAbove { serial, previous })
        }
        (Some(serial), _) => Ok(serial),
        (None, previous) => Ok(previous.map_or(1, |p| p.saturating_add(1))),
    }
}

/// The previous index (checked with the signing key, or with the key being rotated from) and the
/// chain of key rotations the new one carries, with the rotation this publish adds.
type WithChain = (
    Option<previous::Previous>,
    Vec<KeyRotation>,
    Option<(String, String)>,
);

fn previous_and_chain(options: &PublishOptions) -> Result<WithChain, UpdateError> {
    let key = signature::public_key_of(&options.key)?;
    let mut keys = vec![key.clone()];
    let old = options
        .rotate_from
        .as_deref()
        .map(signature::public_key_of)
        .transpose()?;
    keys.extend(old.clone());
    let previous = previous::read(&options.out, &keys)?;
    let mut chain = previous
        .as_ref()
        .map(|p| p.index.rotations.clone())
        .unwrap_or_default();
    let mut rotated = None;
    let retired = |id: &str| chain.iter().any(|r| r.from == id);
    if let (Some(old_secret), Some(old)) = (&options.rotate_from, old) {
        let (from, to) = (key_id(old.keynum()), key_id(key.keynum()));
        let refused = if from == to {
            Some("--rotate-from names the key it signs with".to_string())
        } else if retired(&from) {
            Some(format!("key {from} was already rotated away from"))
        } else {
            None
        };
        if let Some(detail) = refused {
            return Err(UpdateError::CannotPublish {
                what: "rotate the signing key",
                detail,
            });
        }
        chain.push(KeyRotation::sign(old_secret, &key)?);
        rotated = Some((from, to));
    }
    let signer = key_id(key.keynum());
    if chain.iter().any(|r| r.from == signer) {
        return Err(UpdateError::CannotPublish {
            what: "sign the index",
            detail: format!(
                "key {signer} was retired by a key rotation the index carries; updaters refuse what it signs: sign with the key it was rotated to"
            ),
        });
    }
    Ok((previous, chain, rotated))
}

/// Signs and writes the index: the signature first, so that a reader caught between the two
/// renames sees a mismatch and refuses, rather than trusting a new index under an old signature.
fn write(options: &PublishOptions, index: &ReleaseIndex) -> Result<(), UpdateError> {
    index
        .validate()
        .map_err(|detail| UpdateError::CannotPublish {
            what: "sign the index",
            detail,
        })?;
    let json = index.to_json()?;
    if json.len() as u64 > fsx::cap::INDEX {
        return Err(UpdateError::CannotPublish {
            what: "sign the index",
            detail: format!(
                "it is {} bytes, more than the {} updaters read",
                json.len(),
                fsx::cap::INDEX
            ),
        });
    }
    let comment = format!(
        "ibex-updater index serial {}, expires at unix time {}",
        index.serial, index.expires
    );
    let signature = signature::sign(json.as_bytes(), &options.key, &comment)?;
    fsx::write_atomically(&options.out.join(SIGNATURE_FILE), signature.as_bytes())?;
    fsx::write_atomically(&options.out.join(INDEX_FILE), json.as_bytes())
}
