//! `verify`: the installed components checked against the manifests in the signed index.

use crate::catalog::Catalog;
use crate::client::component::Component;
use crate::error::UpdateError;
use crate::install::InstallRoot;
use crate::install::verify::{InstalledCheck, check_installed};

/// Each of `components` and what its check found.
pub fn verify(
    catalog: &Catalog,
    root: &InstallRoot,
    components: &[Component],
) -> Result<Vec<(Component, InstalledCheck)>, UpdateError> {
    let index = catalog.signed_index("there is no manifest to verify against")?;
    components
        .iter()
        .map(|&component| Ok((component, check_installed(root, index, component)?)))
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
