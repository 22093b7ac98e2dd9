//! `verify`: the installed components checked against the manifests in the signed index.

use crate::catalog::Catalog;
use crate::client::component::Component;
use crate::error::UpdateError;
use crate::install::InstallRoot;
use crate::install::verify::{InstalledCheck, check_installed};
use crate::source::{ReleaseSource, manifest};

/// Each of `components` and what its check found, against the manifest the index lists for the
/// installed version (fetched from `source` only for the components checked).
pub fn verify(
    source: &dyn ReleaseSource,
    catalog: &Catalog,
    root: &InstallRoot,
    components: &[Component],
) -> Result<Vec<(Component, InstalledCheck)>, UpdateError> {
    let index = catalog.signed_index("there is no manifest to verify against")?;
    components
        .iter()
        .map(|&component| {
            let check = check_installed(root, component, |version| {
                index
                    .kit_at(component, version)
                    .map(|(release, kit)| {
                        Ok((release.to_string(), manifest(source, &kit.manifest)?))
                    })
                    .transpose()
            })?;
            Ok((component, check))
        })
        .collect()
}

/// Whether nothing differs from the manifests.
pub fn is_clean(checks: &[(Component, InstalledCheck)]) -> bool {
    checks.iter().all(|(_, check)| match check {
        InstalledCheck::NotInstalled => true,
        InstalledCheck::NotListed { .. } => false,
        InstalledCheck::Checked { differences, .. } => differences.is_empty(),
    })
}
