//! The two parts of the IBEX client that the updater installs, and where each lives on the share
//! and on disk.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// genie_python's IPython config, at the top of its kit folder and of the installed `Python3`.
pub const IPYTHON_CONFIG: &str = "ipython_config.py";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    IbexGui,
    GeniePython,
}

impl Component {
    pub const ALL: [Component; 2] = [Component::IbexGui, Component::GeniePython];

    /// The stable identifier used on the command line and in JSON.
    pub fn id(self) -> &'static str {
        match self {
            Component::IbexGui => "ibex-gui",
            Component::GeniePython => "genie-python",
        }
    }

    /// The name people know it by.
    pub fn display_name(self) -> &'static str {
        match self {
            Component::IbexGui => "IBEX GUI",
            Component::GeniePython => "genie_python",
        }
    }

    /// The folder under the install root (`C:\Instrument\Apps\Client_E4`).
    pub fn install_dir_name(self) -> &'static str {
        match self {
            Component::IbexGui => "Client_E4",
            Component::GeniePython => "Python3",
        }
    }

    /// The kit folder inside a release folder on the share.
    pub fn kit_dir(self) -> &'static str {
        match self {
            Component::IbexGui => "Client",
            Component::GeniePython => "genie_python_3",
        }
    }

    /// The archive, relative to the kit folder.
    pub fn archive_path(self) -> &'static str {
        match self {
            Component::IbexGui => "zips/Client.7z",
            Component::GeniePython => "zips/Python.7z",
        }
    }

    /// The program that makes an unpacked kit a working component, relative to its folder: one
    /// of these must be there (the Windows name first, then the one kits for other platforms
    /// use), or the kit is damaged, however well its archive unpacked.
    pub fn program(self) -> &'static [&'static str] {
        match self {
            Component::IbexGui => &["ibex-client.exe", "ibex-client"],
            Component::GeniePython => &["python.exe", "bin/python3"],
        }
    }

    /// Files that sit beside the archive at the top of the kit folder and are installed into the
    /// tree with it (genie_python's IPython config, which its per-user step copies).
    pub fn kit_files(self) -> &'static [&'static str] {
        match self {
            Component::IbexGui => &[],
            Component::GeniePython => &[IPYTHON_CONFIG],
        }
    }

    /// Where VERSION.txt and BUILD_NUMBER.txt sit, relative to the kit folder: the build writes
    /// them into the unpacked tree on the share, after the archive was made.
    pub fn version_dir(self) -> &'static str {
        match self {
            Component::IbexGui => "Client",
            Component::GeniePython => "",
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown component '{0}': expected ibex-gui, genie-python or all")]
pub struct ParseComponentError(pub String);

impl FromStr for Component {
    type Err = ParseComponentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Component::ALL
            .into_iter()
            .find(|c| c.id().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseComponentError(s.to_string()))
    }
}
