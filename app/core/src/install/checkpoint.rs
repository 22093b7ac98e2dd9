//! Named points in an install at which the crash tests stop the process.
//!
//! Only a build with the `test-hooks` feature (which the tests and benchmarks turn on, and a
//! release build never has) obeys them: `IBEX_UPDATER_TEST_ABORT_AT=<name>` aborts there (as a
//! crash would), `IBEX_UPDATER_TEST_PAUSE_AT=<name>` writes `IBEX_UPDATER_TEST_PAUSE_FILE` and
//! waits to be killed, and `IBEX_UPDATER_TEST_FAIL_AT=<name>` returns an error there. What ships
//! reads none of them.

use crate::client::component::Component;
use crate::error::UpdateError;

#[cfg(feature = "test-hooks")]
pub fn reach(name: &str) -> Result<(), UpdateError> {
    use std::time::Duration;
    use std::{env, fs, process, thread};

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

#[cfg(not(feature = "test-hooks"))]
pub fn reach(_name: &str) -> Result<(), UpdateError> {
    Ok(())
}

/// Whether the install benchmark asked for staged trees not to be made durable
/// (`IBEX_UPDATER_BENCH_NO_SYNC`), to measure what that costs: a `test-hooks` build only.
pub fn bench_no_sync() -> bool {
    cfg!(feature = "test-hooks") && std::env::var_os("IBEX_UPDATER_BENCH_NO_SYNC").is_some()
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
