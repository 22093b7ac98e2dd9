//! Reading a source's signed index: fetched within a size cap and a total deadline, its
//! signature checked against the keys trusted (following any key rotation it carries), its
//! values validated, its expiry and its serial checked against what was seen of the source.

use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::rotation::{KeyRotation, KeySet};
use super::{INDEX_FILE, ReleaseIndex, SIGNATURE_FILE, format1, signature};
use crate::error::UpdateError;
use crate::fsx::cap;
use crate::index::trust::Trust;

/// A source's signed metadata, read as the source reads it (a file on a share, a URL on a mirror).
pub trait MetadataRead {
    /// Up to `cap + 1` bytes of the file at `path` (relative to the index's folder, `/`
    /// separated), however much more there is, so that the caller can tell a file over its cap;
    /// `None` when there is no such file. Reading ends with an error once `wait` has passed, however
    /// slowly the bytes keep coming.
    fn read_metadata(
        &self,
        path: &str,
        cap: u64,
        wait: Duration,
    ) -> Result<Option<Vec<u8>>, UpdateError>;

    /// How long reading `size` bytes of signed metadata may take in all.
    fn metadata_wait(&self, size: u64) -> Duration;
}

/// The signed index of the source at `location`, verified, or `None` when it has none.
pub fn load(
    source: &dyn MetadataRead,
    location: &str,
    trust: &Trust,
    now: SystemTime,
) -> Result<Option<ReleaseIndex>, UpdateError> {
    let too_large = |cap| UpdateError::TooLarge {
        path: format!("{INDEX_FILE} of {location}"),
        cap,
    };
    // A format 2 index is small however many releases it lists: its deadline does not grow
    // with its cap.
    let wait = source.metadata_wait(0);
    let Some(mut bytes) = source.read_metadata(INDEX_FILE, cap::INDEX, wait)? else {
        return Ok(None);
    };
    if bytes.len() as u64 > cap::INDEX {
        // Only a format 1 index, which carries every manifest, can be this large, and only where
        // no format 2 index has been seen: it is read to its own, larger cap.
        let legacy = format1::looks_like(&bytes) && trust.seen_format(location)? < Some(2);
        if !legacy {
            return Err(too_large(cap::INDEX));
        }
        let wait = source.metadata_wait(cap::LEGACY_INDEX);
        bytes = source
            .read_metadata(INDEX_FILE, cap::LEGACY_INDEX, wait)?
            .unwrap_or_default();
        if bytes.len() as u64 > cap::LEGACY_INDEX {
            return Err(too_large(cap::LEGACY_INDEX));
        }
    }
    let unreadable = |detail: String| UpdateError::BadIndexSignature {
        location: location.to_string(),
        detail: format!("{SIGNATURE_FILE} cannot be read: {detail}"),
    };
    // A source that cannot be read in time stays that (exit 4), whichever file it was.
    let signature = match source.read_metadata(SIGNATURE_FILE, cap::SIGNATURE, wait)? {
        Some(bytes) if bytes.len() as u64 > cap::SIGNATURE => {
            return Err(unreadable(format!(
                "it is larger than {} bytes",
                cap::SIGNATURE
            )));
        }
        Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        None => return Err(unreadable("it does not exist".into())),
    };
    let index = verify(&bytes, &signature, trust, location, now)?;
    if bytes.len() as u64 > cap::INDEX && index.format != format1::FORMAT {
        return Err(too_large(cap::INDEX));
    }
    Ok(Some(index))
}

/// Checks an index fetched from `location`: its signature against the keys trusted, following
/// the rotations it carries from them; its values, its expiry and its serial.
pub fn verify(
    bytes: &[u8],
    signature_text: &str,
    trust: &Trust,
    location: &str,
    now: SystemTime,
) -> Result<ReleaseIndex, UpdateError> {
    let signer = signature::signer(signature_text, location)?;
    let mut keys = trust.key_set()?;
    refuse_retired(&keys, &signer, location)?;
    if !keys.trusted.contains_key(&signer) {
        // A key not trusted yet may be one a rotation in this index moves to.
        keys.follow(&unverified_chain(bytes), location)?;
    }
    let trusted: Vec<_> = keys.trusted.values().cloned().collect();
    signature::verify(bytes, signature_text, &trusted, location)?;
    // Only signed bytes are parsed whole and validated.
    let index = ReleaseIndex::parse(bytes, location)?;
    keys.follow(&index.rotations, location)?;
    refuse_retired(&keys, &signer, location)?;
    index.check_expiry(location, now)?;
    trust.accept(location, &index, &signer, &keys)?;
    Ok(index)
}

/// The key rotations of an index whose signature is not checked yet: those alone, everything
/// else skipped unbuilt, so that unsigned bytes cost no more than a look at them. Each statement
/// is then checked on its own signature; an index without a readable chain has none.
fn unverified_chain(bytes: &[u8]) -> Vec<KeyRotation> {
    #[derive(Deserialize)]
    struct Chain {
        #[serde(default)]
        rotations: Vec<KeyRotation>,
    }
    serde_json::from_slice::<Chain>(bytes)
        .map(|chain| chain.rotations)
        .unwrap_or_default()
}

fn refuse_retired(keys: &KeySet, signer: &str, location: &str) -> Result<(), UpdateError> {
    match keys.retired.get(signer) {
        Some(successor) => Err(UpdateError::RetiredSigningKey {
            location: location.to_string(),
            key_id: signer.to_string(),
            successor: successor.clone(),
        }),
        None => Ok(()),
    }
}
