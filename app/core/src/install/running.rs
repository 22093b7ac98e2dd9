//! Refuses to replace a client that is running: Windows would fail half way through the swap,
//! and anywhere else the running program would be left with its files moved from under it.

use std::path::{Path, PathBuf};

use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

use crate::client::component::Component;
use crate::error::UpdateError;

pub fn refuse_if_running(component: Component, dir: &Path) -> Result<(), UpdateError> {
    match running_from(dir) {
        Some((pid, path)) => Err(UpdateError::ClientRunning {
            component,
            path,
            pid,
        }),
        None => Ok(()),
    }
}

/// A program running from `dir` (its process id and path), if there is one.
pub fn running_from(dir: &Path) -> Option<(u32, PathBuf)> {
    if !dir.exists() {
        return None;
    }
    // Compare canonical paths: the install root may be reached through a link or a short name.
    let dir = comparable(&dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()));
    let mut system = match System::new() {
        Ok(system) => system,
        Err(e) => {
            // Without a process list the swap itself still fails safely on Windows.
            tracing::warn!(
                "cannot list running programs ({e}); not checking what runs from {}",
                dir.display()
            );
            return None;
        }
    };
    system.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing().with_exe(UpdateKind::Always),
    );
    system.processes().iter().find_map(|(pid, process)| {
        let exe = process
            .exe()
            .filter(|exe| comparable(exe).starts_with(&dir))?;
        tracing::debug!("{} runs from {}", exe.display(), dir.display());
        Some((pid.as_u32(), exe.to_path_buf()))
    })
}

/// `path` as two paths to the same file compare equal. Windows: canonical paths come back in the
/// verbatim form (`\\?\C:\…`, `\\?\UNC\server\…`) while process paths do not, and names
/// are compared without regard to case.
#[cfg(windows)]
fn comparable(path: &Path) -> PathBuf {
    let text = path.to_string_lossy();
    let plain = if let Some(unc) = text.strip_prefix(r"\\?\UNC\") {
        format!(r"\\{unc}")
    } else {
        text.strip_prefix(r"\\?\").unwrap_or(&text).to_string()
    };
    PathBuf::from(plain.to_lowercase())
}

#[cfg(not(windows))]
fn comparable(path: &Path) -> PathBuf {
    path.to_path_buf()
}

#[cfg(all(test, windows))]
mod tests {
    use super::*;

    #[test]
    fn verbatim_and_plain_windows_paths_compare_alike() {
        assert_eq!(
            comparable(Path::new(r"\\?\C:\Instrument\Apps\Client_E4")),
            comparable(Path::new(r"c:\instrument\apps\client_e4"))
        );
        assert_eq!(
            comparable(Path::new(r"\\?\UNC\server\share\Apps")),
            comparable(Path::new(r"\\SERVER\share\Apps"))
        );
    }
}
