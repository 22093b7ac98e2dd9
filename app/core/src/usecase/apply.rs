//! Installing a plan and rolling back, with the options every front end uses.

use std::path::Path;
use std::time::Duration;

use crate::client::component::Component;
use crate::client::ipython_profile;
use crate::client::release_lines::{self, MixedLines};
use crate::client::version_file;
use crate::config::resolved::Settings;
use crate::error::UpdateError;
use crate::install::history::{self, Action, Entry};
use crate::install::{
    self, EpicsUtils, InstallOptions, InstallRoot, Report, mirror, tree_record, verify,
};
use crate::progress::Progress;
use crate::source::ReleaseSource;
use crate::usecase::plan::Plan;

/// This machine's install options: its host name (written into the GUI's settings), how long
/// to wait for another updater working on the same install root, and the policy's EPICS tools.
pub fn options(settings: &Settings, lock_wait: Duration) -> InstallOptions {
    InstallOptions {
        hostname: gethostname::gethostname().to_string_lossy().into_owned(),
        lock_wait,
        // Only the install benchmark turns this off, to measure what syncing costs.
        sync: !install::checkpoint::bench_no_sync(),
        epics_utils: settings.policy.epics_utils_source.clone(),
        keep_releases: settings
            .policy
            .keep_releases
            .map_or(install::DEFAULT_KEEP, |n| n.max(1) as usize),
    }
}

/// Installs the plan's kits as one transaction (an empty plan changes nothing), then mirrors the
/// EPICS tools when the policy names them, in a transaction of their own.
pub fn install(
    source: &dyn ReleaseSource,
    root: &InstallRoot,
    plan: &Plan,
    progress: &dyn Progress,
    options: &InstallOptions,
) -> Result<Report, UpdateError> {
    let mut report = if plan.is_empty() {
        Report::default()
    } else {
        let edited = edited_files(source, root, plan);
        let outcome = install::install(root, source, &plan.kit_refs(), progress, options);
        history::record(root, &Entry::of(Action::Install, &outcome));
        let mut report = outcome?;
        report.edited = edited;
        let in_use: Vec<String> = report
            .changes
            .iter()
            .filter_map(|c| c.sha256.clone())
            .collect();
        source.prune_cache(&in_use);
        report
    };
    report.ipython_profile = Some(ipython_profile::catch_up(
        &root.component_dir(Component::GeniePython),
    ));
    report.epics_utils = options
        .epics_utils
        .as_deref()
        .map(|from| mirror_epics_utils(root, from, options));
    report.mixed_lines = mixed_lines(root);
    Ok(report)
}

/// Whether the installed GUI and genie_python are now on different release lines.
fn mixed_lines(root: &InstallRoot) -> Option<MixedLines> {
    let installed = |c| version_file::installed(&root.component_dir(c));
    release_lines::mixed(
        installed(Component::IbexGui).as_ref(),
        installed(Component::GeniePython).as_ref(),
    )
}

/// Hand edits in the trees about to be replaced, by the manifests of their versions: the one
/// the tree's record keeps (what its install wrote), else the one the index lists. Only a
/// report: a file that cannot be read is logged and left out.
fn edited_files(
    source: &dyn ReleaseSource,
    root: &InstallRoot,
    plan: &Plan,
) -> Vec<(Component, Vec<String>)> {
    plan.replaced_files
        .iter()
        .filter_map(|(component, listed)| {
            let dir = root.component_dir(*component);
            let files = match tree_record::files(&dir) {
                Some(files) => files.into(),
                None => crate::source::manifest(source, listed)
                    .inspect_err(|e| {
                        tracing::warn!("not looking for hand edits in {component}: {e}")
                    })
                    .ok()?,
            };
            match verify::edited(&dir, &files) {
                Ok(edited) if edited.is_empty() => None,
                Ok(edited) => Some((*component, edited)),
                Err(e) => {
                    tracing::warn!("could not look for hand edits in {component}: {e}");
                    None
                }
            }
        })
        .collect()
}

/// The client is installed whatever happens here: a failure is reported, not returned.
fn mirror_epics_utils(root: &InstallRoot, from: &Path, options: &InstallOptions) -> EpicsUtils {
    match mirror::mirror(root, from, options) {
        Ok(report) => EpicsUtils::Mirrored(report),
        Err(e) => EpicsUtils::NotUpdated {
            source: from.to_path_buf(),
            reason: e.to_string(),
        },
    }
}

/// Puts back the previous version of `components`. The whole client means the last transaction,
/// undone as the unit it was: a rollback never leaves a GUI and a genie_python that were never
/// installed together. Naming one component makes a missing previous version an error; with
/// several, those without one are left alone.
pub fn rollback(
    root: &InstallRoot,
    components: &[Component],
    progress: &dyn Progress,
    options: &InstallOptions,
) -> Result<Report, UpdateError> {
    let components = rollback_scope(root, components)?;
    let strict = components.len() == 1;
    let outcome = install::rollback(root, &components, strict, progress, options);
    history::record(root, &Entry::of(Action::Rollback, &outcome));
    let mut report = outcome?;
    report.mixed_lines = mixed_lines(root);
    Ok(report)
}

/// What a rollback of `components` puts back: the last transaction's components when the whole
/// client is asked for (and the history knows it), else those named. When the whole client is
/// asked for and the history cannot be used, the user must name the component.
pub fn rollback_scope(
    root: &InstallRoot,
    components: &[Component],
) -> Result<Vec<Component>, UpdateError> {
    if components == Component::ALL.as_slice()
        && let Some(last) = history::last_transaction(root)?
    {
        return Ok(last);
    }
    Ok(components.to_vec())
}
