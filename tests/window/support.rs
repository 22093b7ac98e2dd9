//! What the window's tests share: the demo (share, install root, instrument fleet on loopback),
//! the harness, clicking and waiting by label, snapshots, and release sources that hold back.

#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eframe::egui::Rect;
use eframe::egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, SnapshotOptions};
use ibex_updater_core::catalog::Catalog;
use ibex_updater_core::client::component::Component;
use ibex_updater_core::client::version::ReleaseName;
use ibex_updater_core::config::resolved::Settings;
use ibex_updater_core::error::UpdateError;
use ibex_updater_core::index::load::MetadataRead;
use ibex_updater_core::install::InstallRoot;
use ibex_updater_core::release::Kit;
use ibex_updater_core::source::{ReleaseSource, ShareSource};
use ibex_updater_window::{Backend, UpdaterApp};

use crate::common::{has_label, step_until};

pub(crate) struct Demo {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) settings: Settings,
}

impl Demo {
    pub(crate) fn new() -> Demo {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::demo(&dir.path().join("demo"), Duration::from_secs(2)).unwrap();
        Demo { dir, settings }
    }

    pub(crate) fn backend(&self) -> Backend {
        Backend::new(self.settings.clone(), self.dir.path().join("data"))
    }

    pub(crate) fn share(&self) -> PathBuf {
        self.dir.path().join("demo").join("Releases")
    }

    pub(crate) fn install_root(&self) -> &Path {
        self.settings.install_root.path()
    }

    pub(crate) fn installed(&self, component: Component) -> Option<String> {
        ibex_updater_core::client::version_file::installed(
            &InstallRoot::new(self.install_root()).component_dir(component),
        )
        .map(|v| v.to_string())
    }
}

pub(crate) fn harness(app: UpdaterApp) -> Harness<'static, UpdaterApp> {
    Harness::builder()
        .with_size([980.0, 640.0])
        .wgpu()
        .build_ui_state(|ui, app: &mut UpdaterApp| app.show(ui), app)
}

pub(crate) fn pick(harness: &mut Harness<'_, UpdaterApp>, instrument: &str) {
    step_until(harness, "the instrument list", |h| has_label(h, instrument));
    harness.get_by_label(instrument).click();
    step_until(harness, "the verdicts", |h| {
        has_label(h, &format!("{instrument} runs IBEX")) && has_label(h, "Installed")
    });
}

pub(crate) fn click_button(harness: &mut Harness<'_, impl Sized>, label: &str) {
    harness.get_by_role_and_label(Role::Button, label).click();
    harness.step();
}

/// Picks LARMOR and starts "Install matching client" from a source that holds the archive back
/// halfway until the gate opens.
pub(crate) fn start_held_install(demo: &Demo) -> (Harness<'static, UpdaterApp>, Gate) {
    let gate = Gate::closed();
    let source = GatedSource::new(demo.share(), gate.clone());
    let mut harness = harness(UpdaterApp::new(
        demo.backend().with_source(Arc::new(source)),
    ));
    pick(&mut harness, "LARMOR");
    click_button(&mut harness, "Install matching client");
    (harness, gate)
}

/// Masks the footer, which shows the temporary folders' paths, then compares the snapshot.
pub(crate) fn snapshot(harness: &mut Harness<'_, UpdaterApp>, name: &str) {
    snapshot_masking(harness, name, |_| Vec::new());
}

/// Like [`snapshot`], masking also `masked`'s rects: paths that differ from one machine or
/// platform to the next.
pub(crate) fn snapshot_masking(
    harness: &mut Harness<'_, UpdaterApp>,
    name: &str,
    masked: impl Fn(&Harness<'_, UpdaterApp>) -> Vec<Rect>,
) {
    // A busy machine answers later: the picture waits for every answer, not for a time.
    step_until(harness, "the window to settle", |h| h.state().is_settled());
    harness.run_ok();
    // The footer's whole strip, and the rest of each line from where the text starts: the paths'
    // widths differ from one temporary folder to the next.
    let footer = harness.get_by_label_contains("Release source:").rect();
    harness.mask(Rect::from_x_y_ranges(0.0..=10_000.0, footer.y_range()));
    for rect in masked(harness) {
        harness.mask(rect);
    }
    harness.snapshot_options(name, &snapshot_options());
}

/// The images live in the repository's `tests/snapshots/`, beside the other fixtures.
pub(crate) fn snapshot_options() -> SnapshotOptions {
    SnapshotOptions::new().output_path(crate::common::workspace_root().join("tests/snapshots"))
}

/// Holds an archive back until the test opens it, so that the test can look at (and cancel) an
/// install in progress without racing it.
#[derive(Clone, Default)]
pub(crate) struct Gate(pub(crate) Arc<AtomicBool>);

impl Gate {
    pub(crate) fn closed() -> Gate {
        Gate::default()
    }
    pub(crate) fn open(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A share that holds back what a test's gate says: each archive, or the catalog.
#[derive(Debug)]
pub(crate) struct GatedSource {
    pub(crate) share: ShareSource,
    pub(crate) archive_gate: Option<Arc<AtomicBool>>,
    pub(crate) catalog_gate: Option<Arc<AtomicBool>>,
}

impl GatedSource {
    /// Every archive is held back until the gate opens.
    pub(crate) fn new(share: PathBuf, gate: Gate) -> GatedSource {
        GatedSource {
            share: ShareSource::new(share),
            archive_gate: Some(gate.0),
            catalog_gate: None,
        }
    }

    /// The catalog is read only while the gate is open.
    #[cfg(unix)]
    pub(crate) fn holding_catalog(share: PathBuf, gate: Gate) -> GatedSource {
        GatedSource {
            share: ShareSource::new(share),
            archive_gate: None,
            catalog_gate: Some(gate.0),
        }
    }
}

impl MetadataRead for GatedSource {
    fn read_metadata(
        &self,
        path: &str,
        cap: u64,
        wait: Duration,
    ) -> Result<Option<Vec<u8>>, UpdateError> {
        self.share.read_metadata(path, cap, wait)
    }
    fn metadata_wait(&self, size: u64) -> Duration {
        self.share.metadata_wait(size)
    }
}

impl ReleaseSource for GatedSource {
    fn location(&self) -> String {
        self.share.location()
    }
    fn read_catalog(&self) -> Result<Catalog, UpdateError> {
        if let Some(gate) = &self.catalog_gate {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !gate.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        self.share.read_catalog()
    }
    fn local_archive(
        &self,
        kit: &Kit,
        progress: &dyn ibex_updater_core::progress::Progress,
    ) -> Result<PathBuf, UpdateError> {
        if let Some(gate) = &self.archive_gate {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !gate.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        self.share.local_archive(kit, progress)
    }
    fn fetch_file(
        &self,
        path: &str,
        size: u64,
        sha256: &str,
        dest: &Path,
        progress: &dyn ibex_updater_core::progress::Progress,
    ) -> Result<(), UpdateError> {
        self.share.fetch_file(path, size, sha256, dest, progress)
    }

    fn release_notes(&self, release: &ReleaseName) -> Option<String> {
        self.share.release_notes(release)
    }
}
