//! What the last `publish` left in the output folder: its index, checked with the release team's
//! own key before anything is carried over from it (anyone who can write to the share could
//! otherwise plant an entry that the next publish would sign), and its manifest files.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use minisign::PublicKey;

use crate::error::UpdateError;
use crate::fsx;
use crate::index::signature::{self, key_id};
use crate::index::{
    FileEntry, INDEX_FILE, ListedManifest, MANIFESTS_DIR, ManifestRef, ReleaseIndex,
    SIGNATURE_FILE, manifest,
};

/// The previous index, verified.
#[derive(Debug)]
pub struct Previous {
    pub index: ReleaseIndex,
    out: PathBuf,
}

/// Reads the index in `out`, if there is one, and checks that one of `keys` signed it. An index
/// that is there but that none of them signed (another key, or damaged) is an error: carrying
/// over from it, or dropping the key rotations it carries, would be wrong either way.
pub fn read(out: &Path, keys: &[PublicKey]) -> Result<Option<Previous>, UpdateError> {
    let path = out.join(INDEX_FILE);
    let Some(bytes) = fsx::read_file_capped(&path, fsx::cap::LEGACY_INDEX)? else {
        return Ok(None);
    };
    let unusable = |detail: String| UpdateError::CannotPublish {
        what: "carry the index already published over",
        detail: format!(
            "{}: {detail}. If the release team is moving to a new key, pass the old one with \
             --rotate-from; to start the index again, move {} and {} away",
            path.display(),
            INDEX_FILE,
            SIGNATURE_FILE
        ),
    };
    let signature = fsx::read_file_capped(&out.join(SIGNATURE_FILE), fsx::cap::SIGNATURE)?
        .ok_or_else(|| unusable(format!("{SIGNATURE_FILE} is missing")))?;
    let signature = String::from_utf8_lossy(&signature);
    let shown = path.display().to_string();
    let signer = signature::verify(&bytes, &signature, keys, &shown).map_err(|e| {
        unusable(format!(
            "it is not signed by {} ({e})",
            keys.iter()
                .map(|k| format!("key {}", key_id(k.keynum())))
                .collect::<Vec<_>>()
                .join(" or ")
        ))
    })?;
    tracing::debug!("the previous index is signed by key {signer}");
    let index = ReleaseIndex::parse(&bytes, &shown)?;
    Ok(Some(Previous {
        index,
        out: out.to_path_buf(),
    }))
}

/// The serial of whatever index is in `out`, signed or not: a new one must go above it, or
/// updaters that saw it would refuse the new one.
pub fn serial(out: &Path) -> Option<u64> {
    let bytes = fsx::read_file_capped(&out.join(INDEX_FILE), fsx::cap::LEGACY_INDEX)
        .ok()
        .flatten()?;
    serde_json::from_slice::<serde_json::Value>(&bytes).ok()?["serial"].as_u64()
}

impl Previous {
    /// The files of a manifest this index lists, read from the output folder and checked against
    /// the index.
    pub fn manifest(&self, listed: &ListedManifest) -> Result<Vec<FileEntry>, UpdateError> {
        let listed = match listed {
            ListedManifest::Inline(files) => return Ok(files.to_vec()),
            ListedManifest::File(listed) => listed,
        };
        let path = self.out.join(&listed.path);
        let bad = |detail: String| UpdateError::BadManifest {
            location: self.out.display().to_string(),
            path: listed.path.clone(),
            detail,
        };
        let bytes = fsx::read_file_capped(&path, fsx::cap::MANIFEST)?
            .ok_or_else(|| bad("it is missing".into()))?;
        manifest::decode(&bytes, listed).map_err(bad)
    }

    /// Whether the manifest file `listed` is in the output folder at its listed size (its bytes
    /// are checked by every reader).
    pub fn has_manifest_file(&self, listed: &ManifestRef) -> bool {
        fs::metadata(self.out.join(&listed.path))
            .is_ok_and(|m| m.is_file() && m.len() == listed.size)
    }
}

/// Writes a manifest file into `out`. A file of that name may be there already (its name is its
/// hash): it is written again rather than read to compare, so that a publish reads only archives.
pub fn write_manifest(out: &Path, listed: &ManifestRef, bytes: &[u8]) -> Result<(), UpdateError> {
    fsx::write_atomically(&out.join(&listed.path), bytes)
}

/// Removes the manifest files in `out` that neither `index` nor the one it replaces lists: a
/// reader that fetched the previous index a moment ago still finds the manifests it names.
pub fn remove_unlisted_manifests(
    out: &Path,
    index: &ReleaseIndex,
    previous: Option<&ReleaseIndex>,
) {
    let listed: HashSet<&str> = [Some(index), previous]
        .into_iter()
        .flatten()
        .flat_map(|i| i.releases.iter().flat_map(|r| r.kits.iter()))
        .filter_map(|k| match &k.manifest {
            ListedManifest::File(listed) => Some(listed.path.as_str()),
            ListedManifest::Inline(_) => None,
        })
        .collect();
    let dir = out.join(MANIFESTS_DIR);
    let Ok(entries) = fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_manifest = name
            .strip_suffix(".txt.gz")
            .is_some_and(|hash| crate::index::validate::sha256(hash).is_ok());
        if is_manifest
            && !listed.contains(format!("{MANIFESTS_DIR}/{name}").as_str())
            && let Err(e) = fsx::remove_file(&entry.path())
        {
            tracing::warn!("could not remove an old manifest: {e}");
        }
    }
}
