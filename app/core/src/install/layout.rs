//! Where everything lives under an install root.
//!
//! ```text
//! <root>/Client_E4                  the installed IBEX GUI
//! <root>/Python3                    the installed genie_python
//! <root>/.ibex-updater/lock         held while an install or rollback runs
//! <root>/.ibex-updater/journal.json present only while a swap is in flight
//! <root>/.ibex-updater/staging/<tx> downloads and extracted trees of one transaction
//! <root>/.ibex-updater/downloads/   verified archives from HTTP mirrors, kept for reuse
//! <root>/.ibex-updater/previous/    the versions `rollback` restores
//! ```
//!
//! The state folder sits inside the install root so that every rename is on one filesystem.

use std::path::{Path, PathBuf};

use crate::client::component::Component;

#[derive(Debug, Clone)]
pub struct InstallRoot {
    root: PathBuf,
}

impl InstallRoot {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        InstallRoot { root: root.into() }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    pub fn component_dir(&self, component: Component) -> PathBuf {
        self.root.join(component.install_dir_name())
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".ibex-updater")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.state_dir().join("lock")
    }

    pub fn journal_path(&self) -> PathBuf {
        self.state_dir().join("journal.json")
    }

    /// Where HTTP downloads go, beside staging so that linking one in is free.
    pub fn downloads_dir(&self) -> PathBuf {
        self.state_dir().join("downloads")
    }

    pub fn staging_dir(&self) -> PathBuf {
        self.state_dir().join("staging")
    }

    pub fn previous_dir(&self, component: Component) -> PathBuf {
        self.state_dir()
            .join("previous")
            .join(component.install_dir_name())
    }
}
