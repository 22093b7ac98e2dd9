//! Refuses to replace a client that is running: Windows would fail half way through the swap,
//! and anywhere else the running program would be left with its files moved from under it.

use std::path::Path;

use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

use crate::client::component::Component;
use crate::error::UpdateError;

pub fn refuse_if_running(component: Component, dir: &Path) -> Result<(), UpdateError> {
    if !dir.exists() {
        return Ok(());
    }
    // Compare canonical paths: the install root may be reached through a link or a short name.
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut system = match System::new() {
        Ok(system) => system,
        Err(e) => {
            // Without a process list the swap itself still fails safely on Windows.
            tracing::warn!(
                "cannot list running programs ({e}); not checking whether {component} is running"
            );
            return Ok(());
        }
    };
    system.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing().with_exe(UpdateKind::Always),
    );
    for (pid, process) in system.processes() {
        if let Some(exe) = process.exe().filter(|exe| exe.starts_with(&dir)) {
            tracing::debug!("{} runs from {}", exe.display(), dir.display());
            return Err(UpdateError::ClientRunning {
                component,
                path: exe.to_path_buf(),
                pid: pid.as_u32(),
            });
        }
    }
    Ok(())
}
