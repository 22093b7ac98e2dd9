//! Work that outlives the command: deleting superseded trees (see the core's `install::trash`)
//! in a detached `ibex-updater empty-trash` process, so that an install is over, for the user and
//! for IT's scripts, as soon as its swap is.

use std::process::{Command, Stdio};

use ibex_updater_core::install::{InstallRoot, trash};

/// Starts emptying `root`'s trash in a process of its own, when it holds anything.
pub fn empty_trash_later(root: &InstallRoot) {
    if !trash::has_garbage(root) {
        return;
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            tracing::warn!("the trash is left for the next run: {e}");
            return;
        }
    };
    let mut command = Command::new(exe);
    command
        .arg("empty-trash")
        .arg(root.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    detach(&mut command);
    // Not waited for: it goes on after this process has exited, and the system reaps it.
    match command.spawn() {
        Ok(child) => tracing::info!("emptying the trash in process {}", child.id()),
        Err(e) => tracing::warn!("the trash is left for the next run: {e}"),
    }
}

/// Out of the terminal's process group, so that Ctrl+C after the install does not stop it.
#[cfg(unix)]
fn detach(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
}

/// Without a console, and out of the console's Ctrl+C group.
#[cfg(windows)]
fn detach(command: &mut Command) {
    use std::os::windows::process::CommandExt;
    const DETACHED_PROCESS: u32 = 0x0000_0008;
    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
    command.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP);
}
