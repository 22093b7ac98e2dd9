//! Named points in an install at which the crash tests stop the process.
//!
//! `IBEX_UPDATER_TEST_ABORT_AT=<name>` aborts there (as a crash would),
//! `IBEX_UPDATER_TEST_PAUSE_AT=<name>` writes `IBEX_UPDATER_TEST_PAUSE_FILE` and waits to be
//! killed, and `IBEX_UPDATER_TEST_FAIL_AT=<name>` returns an error there. Unset, they cost an
//! environment lookup per checkpoint.

use std::time::Duration;
use std::{env, fs, process, thread};

use crate::client::component::Component;
use crate::error::UpdateError;

pub fn reach(name: &str) -> Result<(), UpdateError> {
    if env::var("IBEX_UPDATER_TEST_ABORT_AT").is_ok_and(|v| v == name) {
        process::abort();
    }
    if env::var("IBEX_UPDATER_TEST_PAUSE_AT").is_ok_and(|v| v == name) {
        if let Some(file) = env::var_os("IBEX_UPDATER_TEST_PAUSE_FILE") {
            let _ = fs::write(file, name);
        }
        loop {
            thread::sleep(Duration::from_secs(3600));
        }
    }
    if env::var("IBEX_UPDATER_TEST_FAIL_AT").is_ok_and(|v| v == name) {
        return Err(UpdateError::TestFailure {
            checkpoint: name.to_string(),
        });
    }
    Ok(())
}

/// Every checkpoint an install of `components` passes, in order.
pub fn install_checkpoints(components: &[Component]) -> Vec<String> {
    let mut names = Vec::new();
    for c in components {
        names.push(format!("staged:{}", c.id()));
        names.push(format!("extracted:{}", c.id()));
        names.push(format!("prepared:{}", c.id()));
    }
    names.push("journal-written".to_string());
    for c in components {
        names.push(format!("swap:{}:old-aside", c.id()));
        names.push(format!("swap:{}:new-in", c.id()));
    }
    names.push("committed".to_string());
    for c in components {
        names.push(format!("previous-kept:{}", c.id()));
    }
    names.push("cleaned".to_string());
    names
}
