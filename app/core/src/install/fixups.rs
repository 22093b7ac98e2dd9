//! What today's install scripts do to a freshly unpacked IBEX GUI, done to the staged tree before
//! it is swapped in, and what they fail to do: the user's state in the old tree is carried over.

use std::fs;
use std::path::Path;

use crate::client::component::Component;
use crate::error::UpdateError;

/// The genie console history: the one user file the scripts carry over.
pub const HISTORY_FILE: &str =
    "workspace/.metadata/.plugins/org.python.pydev.shared_interactive_console/history.py";
pub const INI_FILE: &str = "ibex-client.ini";

/// The GUI's state, which the scripts wipe: the instrument, recent configurations and layout
/// (Eclipse's `configuration/.settings`), and its workspace (logs, preferences, the console
/// history). Carried from the old tree into the new one; the old tree keeps its copy for a
/// rollback.
pub const USER_STATE: [&str; 2] = ["configuration/.settings", "workspace"];

pub fn apply(
    component: Component,
    staged: &Path,
    current: &Path,
    hostname: &str,
) -> Result<(), UpdateError> {
    if component != Component::IbexGui {
        return Ok(());
    }
    for folder in USER_STATE {
        copy_tree(&current.join(folder), &staged.join(folder))?;
    }
    add_rmi_hostname(&staged.join(INI_FILE), hostname)
}

/// Makes what [`apply`] wrote into `tree` durable before the swap: the carried state (every file
/// and folder of it) and `ibex-client.ini`.
pub fn sync_written(component: Component, tree: &Path) -> Result<(), UpdateError> {
    if component != Component::IbexGui {
        return Ok(());
    }
    for folder in USER_STATE {
        let dir = tree.join(folder);
        if !fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let mut pending = vec![dir.clone()];
        while let Some(current) = pending.pop() {
            for entry in fs::read_dir(&current).map_err(UpdateError::io("list", &current))? {
                let entry = entry.map_err(UpdateError::io("list", &current))?;
                let path = entry.path();
                match entry.file_type() {
                    Ok(kind) if kind.is_dir() => pending.push(path),
                    Ok(kind) if kind.is_file() => sync_file(&path)?,
                    _ => {}
                }
            }
        }
        crate::fsx::sync_folders(&dir)?;
    }
    let ini = tree.join(INI_FILE);
    if fs::symlink_metadata(&ini).is_ok_and(|m| m.is_file()) {
        sync_file(&ini)?;
    }
    crate::fsx::sync_dir(tree);
    Ok(())
}

fn sync_file(path: &Path) -> Result<(), UpdateError> {
    crate::fsx::open_state_for_writing(path, false)
        .and_then(|f| f.sync_all())
        .map_err(UpdateError::io("sync", path))
}

/// Whether everything [`apply`] writes into `tree` (the user's state, `ibex-client.ini`) is absent
/// or a real folder or file, with no link on the way: a tree the updater did not make fresh (a
/// kept one) is checked before anything is written into it.
pub fn writes_stay_inside(tree: &Path) -> bool {
    let plain = |relative: &str, folder: bool| {
        let mut path = tree.to_path_buf();
        let parts: Vec<&str> = relative.split('/').collect();
        for (n, part) in parts.iter().enumerate() {
            path.push(part);
            let last = n + 1 == parts.len();
            match fs::symlink_metadata(&path) {
                Err(_) => return true,
                Ok(meta) if !last || folder => {
                    if !meta.is_dir() {
                        return false;
                    }
                }
                Ok(meta) => return meta.is_file(),
            }
        }
        true
    };
    USER_STATE.iter().all(|folder| plain(folder, true)) && plain(INI_FILE, false)
}

/// Copies the files under `from` over `to`. Links in the old tree are left behind: nothing is
/// written through one, and nothing outside the tree is copied in.
fn copy_tree(from: &Path, to: &Path) -> Result<(), UpdateError> {
    let Ok(meta) = fs::symlink_metadata(from) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(to).map_err(UpdateError::io("create", to))?;
    for entry in fs::read_dir(from).map_err(UpdateError::io("list", from))? {
        let entry = entry.map_err(UpdateError::io("list", from))?;
        let (source, dest) = (entry.path(), to.join(entry.file_name()));
        let kind = entry
            .file_type()
            .map_err(UpdateError::io("inspect", &source))?;
        if kind.is_dir() {
            copy_tree(&source, &dest)?;
        } else if kind.is_file() {
            fs::copy(&source, &dest).map_err(UpdateError::io("copy", &source))?;
        } else {
            tracing::warn!("not carrying over {}: it is a link", source.display());
        }
    }
    Ok(())
}

/// Appends `-Djava.rmi.server.hostname=<host>` so that the GUI's RMI callbacks reach this
/// machine, keeping the file's line endings.
fn add_rmi_hostname(ini: &Path, hostname: &str) -> Result<(), UpdateError> {
    let Some(bytes) = crate::fsx::read_state_capped(ini, crate::fsx::cap::OWN_FILE)? else {
        tracing::debug!("{} not found; no RMI host name added", ini.display());
        return Ok(());
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let line = format!("-Djava.rmi.server.hostname={hostname}");
    if text.lines().any(|l| l.trim() == line) {
        return Ok(());
    }
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut updated = text.clone();
    if !updated.is_empty() && !updated.ends_with('\n') {
        updated.push_str(eol);
    }
    updated.push_str(&line);
    updated.push_str(eol);
    // A new file renamed over the old: whatever was swapped in at that name since it was read
    // (a link) is replaced, never written through.
    crate::fsx::write_atomically(ini, updated.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_kept_tree_with_a_link_where_the_state_goes_is_not_written_into() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("kept");
        fs::create_dir_all(tree.join("configuration")).unwrap();
        fs::write(tree.join(INI_FILE), "-vmargs\n").unwrap();
        assert!(writes_stay_inside(&tree));
        std::os::unix::fs::symlink(dir.path(), tree.join("workspace")).unwrap();
        assert!(!writes_stay_inside(&tree));
        crate::fsx::remove_file(&tree.join("workspace")).unwrap();
        crate::fsx::remove_file(&tree.join(INI_FILE)).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere.ini"), tree.join(INI_FILE)).unwrap();
        assert!(!writes_stay_inside(&tree));
    }

    #[test]
    fn appends_the_hostname_once_keeping_crlf() {
        let dir = tempfile::tempdir().unwrap();
        let ini = dir.path().join(INI_FILE);
        fs::write(&ini, "-vmargs\r\n-Xmx2048m").unwrap();
        add_rmi_hostname(&ini, "NDW1234").unwrap();
        add_rmi_hostname(&ini, "NDW1234").unwrap();
        assert_eq!(
            fs::read_to_string(&ini).unwrap(),
            "-vmargs\r\n-Xmx2048m\r\n-Djava.rmi.server.hostname=NDW1234\r\n"
        );
    }

    #[test]
    fn carries_the_user_state_over_and_the_old_tree_keeps_it() {
        let (old, new) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let prefs = "configuration/.settings/uk.ac.stfc.isis.ibex.instrument.prefs";
        for (file, text) in [(prefs, "old instrument"), ("workspace/logs/gui.log", "log")] {
            let path = old.path().join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        let staged_prefs = new.path().join(prefs);
        fs::create_dir_all(staged_prefs.parent().unwrap()).unwrap();
        fs::write(&staged_prefs, "kit default").unwrap();
        apply(Component::IbexGui, new.path(), old.path(), "host").unwrap();
        assert_eq!(fs::read_to_string(&staged_prefs).unwrap(), "old instrument");
        assert_eq!(
            fs::read_to_string(new.path().join("workspace/logs/gui.log")).unwrap(),
            "log"
        );
        assert_eq!(
            fs::read_to_string(old.path().join(prefs)).unwrap(),
            "old instrument"
        );
    }

    #[test]
    fn carries_the_console_history_over() {
        let (old, new) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let history = old.path().join(HISTORY_FILE);
        fs::create_dir_all(history.parent().unwrap()).unwrap();
        fs::write(&history, "g.cget('x')\n").unwrap();
        apply(Component::IbexGui, new.path(), old.path(), "host").unwrap();
        assert_eq!(
            fs::read_to_string(new.path().join(HISTORY_FILE)).unwrap(),
            "g.cget('x')\n"
        );
    }
}
