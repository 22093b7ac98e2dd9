//! Where everything lives under an install root.
//!
//! ```text
//! <root>/Client_E4                  the installed IBEX GUI
//! <root>/Python3                    the installed genie_python
//! <root>/EPICS_UTILS                the site's EPICS command-line tools, when the policy names them
//! <root>/.ibex-updater/lock         held while an install or rollback runs
//! <root>/.ibex-updater/journal.json present only while a swap is in flight
//! <root>/.ibex-updater/staging/<tx> downloads and extracted trees of one transaction
//! <root>/.ibex-updater/downloads/   verified archives from HTTP mirrors, kept for reuse
//! <root>/.ibex-updater/previous/    the versions `rollback` restores
//! <root>/.ibex-updater/kept/<dir>/  older versions kept for switching (policy `keep_releases`)
//! <root>/.ibex-updater/trash/<tx>   superseded trees, deleted in the background
//! ```
//!
//! The state folder sits inside the install root so that every rename is on one filesystem.

use std::path::{Path, PathBuf};
use std::{fmt, fs, io};

use serde::{Deserialize, Serialize};

use crate::client::component::Component;
use crate::error::UpdateError;

/// A folder of the install root that a transaction swaps: a client component, or the EPICS
/// tools mirrored beside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    IbexGui,
    GeniePython,
    EpicsUtils,
}

impl Part {
    pub const ALL: [Part; 3] = [Part::IbexGui, Part::GeniePython, Part::EpicsUtils];

    /// As in the journal and in test checkpoints (a component's id for the components).
    pub fn id(self) -> &'static str {
        match self.component() {
            Some(component) => component.id(),
            None => "epics-utils",
        }
    }

    pub fn component(self) -> Option<Component> {
        match self {
            Part::IbexGui => Some(Component::IbexGui),
            Part::GeniePython => Some(Component::GeniePython),
            Part::EpicsUtils => None,
        }
    }

    fn dir_name(self) -> &'static str {
        match self.component() {
            Some(component) => component.install_dir_name(),
            None => "EPICS_UTILS",
        }
    }
}

impl From<Component> for Part {
    fn from(component: Component) -> Part {
        match component {
            Component::IbexGui => Part::IbexGui,
            Component::GeniePython => Part::GeniePython,
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.component() {
            Some(component) => component.fmt(f),
            None => f.write_str("EPICS_UTILS"),
        }
    }
}

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

    pub fn component_dir(&self, part: impl Into<Part>) -> PathBuf {
        self.root.join(part.into().dir_name())
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

    /// Superseded trees wait here to be deleted, off the path the user waits for.
    pub fn trash_dir(&self) -> PathBuf {
        self.state_dir().join("trash")
    }

    pub fn staging_dir(&self) -> PathBuf {
        self.state_dir().join("staging")
    }

    /// Older trees of `part` kept for switching, one folder each, named `<sequence>-<version>`.
    pub fn kept_dir(&self, part: impl Into<Part>) -> PathBuf {
        self.state_dir().join("kept").join(part.into().dir_name())
    }

    pub fn previous_dir(&self, part: impl Into<Part>) -> PathBuf {
        self.state_dir()
            .join("previous")
            .join(part.into().dir_name())
    }

    /// Refuses a state folder, or a folder the updater makes in it, that is a link or a file:
    /// any user may have planted one, and renames and writes through it would land wherever it
    /// points. What is not there yet is fine; the trees inside are checked where they are used.
    pub fn check_state_folders(&self) -> Result<(), UpdateError> {
        let state = self.state_dir();
        let mut folders = vec![state.clone()];
        for name in ["downloads", "trash", "staging", "kept", "previous"] {
            folders.push(state.join(name));
        }
        // (`previous/<part>` is a tree itself, checked where it is used.)
        folders.extend(Part::ALL.map(|part| self.kept_dir(part)));
        for folder in folders {
            match fs::symlink_metadata(&folder) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Err(UpdateError::UnsafeStateFolder { path: folder }),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(UpdateError::io("inspect", &folder)(e)),
            }
        }
        Ok(())
    }
}
