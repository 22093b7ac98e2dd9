//! Format 1 of the index, which every share signed before format 2 carries: one document with
//! every kit's whole manifest inside it. It is read, so that those shares keep working until the
//! release team publishes them again, and never written.

use serde::Deserialize;

use super::{ArchiveRef, IndexKit, IndexRelease, ReleaseIndex, UpdaterBuild};
use crate::client::component::Component;
use crate::release::{FileEntry, ListedManifest};

pub const FORMAT: u32 = 1;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    // Already read, to tell the format.
    #[serde(rename = "format")]
    _format: u32,
    serial: u64,
    published: u64,
    expires: u64,
    #[serde(default)]
    source: Option<String>,
    releases: Vec<Release>,
    #[serde(default)]
    updater: Vec<UpdaterBuild>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Release {
    name: String,
    kits: Vec<Kit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Kit {
    component: Component,
    archive: String,
    size: u64,
    sha256: String,
    version: String,
    files: Vec<FileEntry>,
}

/// Whether `head`, the start of an index, is a format 1 index as `publish` wrote them (the
/// format first): only those may be larger than a format 2 index's cap.
pub fn looks_like(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&head[..head.len().min(64)]);
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    compact
        .strip_prefix("{\"format\":1")
        .is_some_and(|rest| rest.starts_with(','))
}

/// A format 1 index in the shape of format 2, its manifests inline.
pub fn parse(bytes: &[u8]) -> Result<ReleaseIndex, String> {
    let index: Index = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    Ok(ReleaseIndex {
        format: FORMAT,
        serial: index.serial,
        published: index.published,
        expires: index.expires,
        source: index.source,
        releases: index.releases.into_iter().map(release).collect(),
        updater: index.updater,
        rotations: Vec::new(),
    })
}

fn release(release: Release) -> IndexRelease {
    IndexRelease {
        name: release.name,
        kits: release.kits.into_iter().map(kit).collect(),
    }
}

fn kit(kit: Kit) -> IndexKit {
    let kit_files = kit
        .files
        .iter()
        .filter(|f| kit.component.kit_files().contains(&f.path.as_str()))
        .cloned()
        .collect();
    IndexKit {
        component: kit.component,
        version: kit.version,
        archive: ArchiveRef {
            path: kit.archive,
            size: kit.size,
            sha256: kit.sha256,
            modified_ns: None,
        },
        manifest: ListedManifest::Inline(kit.files.into()),
        kit_files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_start_of_a_format_1_index_looks_like_one() {
        assert!(looks_like(b"{\n  \"format\": 1,\n  \"serial\": 3"));
        assert!(looks_like(b"{\"format\":1,\"serial\":3"));
        for other in [
            &b"{\"format\": 2, "[..],
            b"{\"format\": 12, ",
            b"\0\0\0\0",
            b"",
            b"{\"serial\": 1, \"format\": 1,",
        ] {
            assert!(!looks_like(other), "{}", String::from_utf8_lossy(other));
        }
    }
}
