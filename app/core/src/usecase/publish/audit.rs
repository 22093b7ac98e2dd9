//! `publish --audit`: every archive the published index lists, read again and compared with
//! what was published (its size and SHA-256, and the manifest of the files it installs). The
//! carried-over kits of an incremental publish are trusted on their size and time; this is the
//! full check the release team runs when it wants one. It writes nothing.

use std::path::Path;

use super::PublishOptions;
use crate::client::component::Component;
use crate::client::version::Version;
use crate::error::UpdateError;
use crate::index::manifest::{self, Scanned};
use crate::index::{FileEntry, IndexKit};

/// One published kit, read again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditedKit {
    pub release: String,
    pub component: Component,
    pub audit: KitAudit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KitAudit {
    Matches,
    /// The archive, or the files it installs, are not what was published.
    Differs {
        detail: String,
    },
    /// The archive is not on the share any more.
    Missing,
}

/// Reads again every kit of the index in `options.out` (which the signing key, or the key
/// rotated from, must have signed).
pub fn audit(options: &PublishOptions) -> Result<Vec<AuditedKit>, UpdateError> {
    let (previous, _, _) = super::previous_and_chain(options)?;
    let Some(previous) = previous else {
        return Err(UpdateError::CannotPublish {
            what: "audit the index",
            detail: format!("there is no index in {} to audit", options.out.display()),
        });
    };
    let mut audited = Vec::new();
    for release in &previous.index.releases {
        for kit in &release.kits {
            let archive = options.share.join(&kit.archive.path);
            let audit = if archive.is_file() {
                let version: Version = kit.version.parse()?;
                let kit_files = kit_files(&options.share, &kit.archive.path, kit.component);
                match previous.manifest(&kit.manifest).and_then(|published| {
                    manifest::of_kit(&archive, &version, &kit_files)
                        .map(|found| compare(&found, kit, &published))
                }) {
                    Ok(audit) => audit,
                    Err(e) => KitAudit::Differs {
                        detail: e.to_string(),
                    },
                }
            } else {
                KitAudit::Missing
            };
            audited.push(AuditedKit {
                release: release.name.clone(),
                component: kit.component,
                audit,
            });
        }
    }
    Ok(audited)
}

/// What was found of a kit against what was published.
fn compare(found: &Scanned, kit: &IndexKit, published: &[FileEntry]) -> KitAudit {
    let mut differences = Vec::new();
    if (found.size, &found.sha256) != (kit.archive.size, &kit.archive.sha256) {
        differences.push(format!(
            "the archive is {} bytes with SHA-256 {}, published as {} bytes with {}",
            found.size, found.sha256, kit.archive.size, kit.archive.sha256
        ));
    }
    if found.files != published {
        differences.push("the files it installs differ from its manifest".into());
    }
    if differences.is_empty() {
        KitAudit::Matches
    } else {
        KitAudit::Differs {
            detail: differences.join("; "),
        }
    }
}

/// The kit files beside the archive at `archive` (relative to the share).
fn kit_files(
    share: &Path,
    archive: &str,
    component: Component,
) -> Vec<(&'static str, std::path::PathBuf)> {
    let Some(kit_dir) = archive.strip_suffix(component.archive_path()) else {
        return Vec::new();
    };
    component
        .kit_files()
        .iter()
        .map(|&name| (name, share.join(format!("{kit_dir}{name}"))))
        .filter(|(_, path)| path.is_file())
        .collect()
}
