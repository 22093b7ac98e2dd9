//! What today's install scripts do to a freshly unpacked IBEX GUI, done to the staged tree before
//! it is swapped in.

use std::fs;
use std::path::Path;

use crate::client::component::Component;
use crate::error::UpdateError;

/// The genie console history: the one user file the scripts carry over.
pub const HISTORY_FILE: &str =
    "workspace/.metadata/.plugins/org.python.pydev.shared_interactive_console/history.py";
pub const INI_FILE: &str = "ibex-client.ini";

pub fn apply(
    component: Component,
    staged: &Path,
    current: &Path,
    hostname: &str,
) -> Result<(), UpdateError> {
    if component != Component::IbexGui {
        return Ok(());
    }
    keep_history(staged, current)?;
    add_rmi_hostname(&staged.join(INI_FILE), hostname)
}

fn keep_history(staged: &Path, current: &Path) -> Result<(), UpdateError> {
    let from = current.join(HISTORY_FILE);
    if !from.is_file() {
        return Ok(());
    }
    let to = staged.join(HISTORY_FILE);
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(UpdateError::io("create", parent))?;
    }
    fs::copy(&from, &to).map_err(UpdateError::io("copy", &from))?;
    Ok(())
}

/// Appends `-Djava.rmi.server.hostname=<host>` so that the GUI's RMI callbacks reach this
/// machine, keeping the file's line endings.
fn add_rmi_hostname(ini: &Path, hostname: &str) -> Result<(), UpdateError> {
    let Ok(text) = fs::read_to_string(ini) else {
        tracing::debug!("{} not found; no RMI host name added", ini.display());
        return Ok(());
    };
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
    fs::write(ini, updated).map_err(UpdateError::io("write", ini))
}

#[cfg(test)]
mod tests {
    use super::*;

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
