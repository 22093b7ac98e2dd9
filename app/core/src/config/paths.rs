//! Default locations.

use std::path::{Path, PathBuf};

use directories::ProjectDirs;

use crate::fsx;

/// Per-user data: logs, remembered settings, the demo. `%LOCALAPPDATA%\ISIS\IBEX Updater\data` on
/// Windows (never the roaming profile: the demo share and logs are large and belong to this
/// machine), the XDG data folder elsewhere. `IBEX_UPDATER_DATA_DIR` overrides it.
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("IBEX_UPDATER_DATA_DIR") {
        return PathBuf::from(dir);
    }
    ProjectDirs::from("uk.ac.stfc", "ISIS", "IBEX Updater")
        .map(|d| d.data_local_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("ibex-updater"))
}

/// Where the IBEX client is installed when nothing says otherwise.
pub fn default_install_root() -> PathBuf {
    if cfg!(windows) {
        PathBuf::from(r"C:\Instrument\Apps")
    } else {
        data_dir().join("Apps")
    }
}

/// The instrument last used (with `--instrument` or in the window) in the data folder `dir`, for
/// the next session to start from.
pub fn last_instrument(dir: &Path) -> Option<String> {
    fsx::read_state_capped(&dir.join("last-instrument.txt"), fsx::cap::OWN_FILE)
        .ok()
        .flatten()
        .map(|s| String::from_utf8_lossy(&s).trim().to_string())
        .filter(|s| !s.is_empty())
}

pub fn remember_instrument(dir: &Path, name: &str) {
    if let Err(e) = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(dir.join("last-instrument.txt"), name))
    {
        tracing::debug!(
            "could not remember the instrument in {}: {e}",
            dir.display()
        );
    }
}
