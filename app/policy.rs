//! The machine policy file, which IT uses to point every desktop at the right release source.
//!
//! Read from `IBEX_UPDATER_POLICY` when set, else `%ProgramData%\IBEX Updater\policy.toml` on
//! Windows and `/etc/ibex-updater/policy.toml` elsewhere. A missing file is an empty policy.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::UpdateError;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// A share folder (or, later, a mirror URL).
    pub release_source: Option<String>,
    pub install_root: Option<PathBuf>,
    /// The site's Channel Access address list (EPICS_CA_ADDR_LIST overrides it).
    pub ca_addr_list: Option<String>,
}

impl Policy {
    pub fn path() -> PathBuf {
        if let Some(path) = std::env::var_os("IBEX_UPDATER_POLICY") {
            return PathBuf::from(path);
        }
        if cfg!(windows) {
            let program_data =
                std::env::var_os("ProgramData").unwrap_or_else(|| r"C:\ProgramData".into());
            PathBuf::from(program_data)
                .join("IBEX Updater")
                .join("policy.toml")
        } else {
            PathBuf::from("/etc/ibex-updater/policy.toml")
        }
    }

    pub fn load() -> Result<Policy, UpdateError> {
        Self::load_from(&Self::path())
    }

    pub fn load_from(path: &Path) -> Result<Policy, UpdateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Policy::default()),
            Err(e) => return Err(UpdateError::io("read the policy file", path)(e)),
        };
        toml::from_str(&text).map_err(|e| {
            UpdateError::Usage(format!(
                "the policy file {} is not valid: {e}",
                path.display()
            ))
        })
    }
}
