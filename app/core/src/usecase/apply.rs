//! Installing a plan and rolling back, with the options every front end uses.

use std::time::Duration;

use crate::client::component::Component;
use crate::error::UpdateError;
use crate::install::{self, InstallOptions, InstallRoot, Report};
use crate::progress::Progress;
use crate::source::ReleaseSource;
use crate::usecase::plan::Plan;

/// This machine's install options: its host name (written into the GUI's settings) and how long
/// to wait for another updater working on the same install root.
pub fn options(lock_wait: Duration) -> InstallOptions {
    InstallOptions {
        hostname: gethostname::gethostname().to_string_lossy().into_owned(),
        lock_wait,
        // Only the install benchmark turns this off, to measure what syncing costs.
        sync: std::env::var_os("IBEX_UPDATER_BENCH_NO_SYNC").is_none(),
    }
}

/// Installs the plan's kits as one transaction; an empty plan changes nothing.
pub fn install(
    source: &dyn ReleaseSource,
    root: &InstallRoot,
    plan: &Plan,
    progress: &dyn Progress,
    options: &InstallOptions,
) -> Result<Report, UpdateError> {
    if plan.is_empty() {
        return Ok(Report::default());
    }
    let report = install::install(root, source, &plan.kit_refs(), progress, options)?;
    let in_use: Vec<String> = report
        .changes
        .iter()
        .filter_map(|c| c.sha256.clone())
        .collect();
    source.prune_cache(&in_use);
    Ok(report)
}

/// Puts back the previous version of `components`. Naming one component makes a missing
/// previous version an error; with several, those without one are left alone.
pub fn rollback(
    root: &InstallRoot,
    components: &[Component],
    progress: &dyn Progress,
    options: &InstallOptions,
) -> Result<Report, UpdateError> {
    let strict = components.len() == 1;
    install::rollback(root, components, strict, progress, options)
}
