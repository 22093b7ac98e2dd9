//! The window's access to the core. Every call that reads the disk, the release source or
//! Channel Access runs on a named thread and answers with a [`Reply`] on a channel that the
//! window drains each frame; the thread asks for a repaint when it is done.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread;
use std::time::{Duration, Instant};

use eframe::egui;

use ibex_updater_core::catalog::Catalog;
use ibex_updater_core::client::component::Component;
use ibex_updater_core::client::gui_preference::GuiInstrument;
use ibex_updater_core::client::ipython_profile::{self, ProfileStep};
use ibex_updater_core::client::version::Version;
use ibex_updater_core::config::paths;
use ibex_updater_core::config::resolved::Settings;
use ibex_updater_core::error::UpdateError;
use ibex_updater_core::fsx;
use ibex_updater_core::index::UpdaterBuild;
use ibex_updater_core::install::{InstallOptions, InstallRoot, Report, running, trash};
use ibex_updater_core::instrument::link::InstrumentStatus;
use ibex_updater_core::progress::{NoProgress, Progress};
use ibex_updater_core::source::ReleaseSource;
use ibex_updater_core::usecase::fleet::{self, Fleet};
use ibex_updater_core::usecase::launch::{self, Preference, Started};
use ibex_updater_core::usecase::plan::{self, InstallRequest};
use ibex_updater_core::usecase::survey::{self, Overview};
use ibex_updater_core::usecase::{apply, self_update};
use ibex_updater_core::worker;

/// What a background thread hands back.
#[derive(Debug)]
pub enum Reply {
    Instruments(Result<Vec<InstrumentStatus>, UpdateError>),
    Overview {
        /// Which request this answers; the window ignores answers it no longer waits for.
        request: u64,
        result: Box<Result<Overview, UpdateError>>,
    },
    Finished {
        job: JobKind,
        result: Result<Report, UpdateError>,
    },
    /// The updater replaced its own binary (with this version), or why not.
    UpdaterReplaced(Result<String, UpdateError>),
    /// genie_python's per-user step, caught up at start.
    Profile(ProfileStep),
    /// The IBEX GUI was started (or found running), or why not.
    GuiStarted(Result<(Preference, Started), UpdateError>),
    /// genie_python's console was opened, or why not.
    GenieStarted(Result<u32, UpdateError>),
    /// The program the window waited for has closed (true), or the wait was stopped (false).
    ClientClosed(bool),
    /// The fleet read for the Fleet view, or why the instrument list could not be read.
    Fleet(Result<Arc<Fleet>, UpdateError>),
    /// Where an export was saved (none if the user cancelled), or why it could not be.
    Exported {
        result: Result<Option<PathBuf>, UpdateError>,
        /// No save dialog could be shown at all.
        unavailable: bool,
    },
    /// What the release source typed at first run holds ("12 releases, newest 26.8.1 (…)").
    SourceChecked {
        location: String,
        summary: Result<String, UpdateError>,
    },
    /// A folder chosen in the native dialog, or none if it was cancelled.
    Folder {
        field: FolderField,
        path: Option<PathBuf>,
        /// No dialog could be shown at all (as opposed to one the user cancelled).
        unavailable: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobKind {
    Install(Vec<Component>),
    Rollback(Vec<Component>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderField {
    ReleaseSource,
    InstallRoot,
}

pub struct Backend {
    settings: Settings,
    source: Option<Arc<dyn ReleaseSource>>,
    options: InstallOptions,
    data_dir: PathBuf,
    tx: Sender<Reply>,
    rx: Option<Receiver<Reply>>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("settings", &self.settings)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// `data_dir` is where the last instrument is remembered.
    pub fn new(settings: Settings, data_dir: PathBuf) -> Backend {
        let (tx, rx) = channel();
        Backend {
            source: settings.source.clone(),
            options: apply::options(&settings, Duration::from_secs(5)),
            settings,
            data_dir,
            tx,
            rx: Some(rx),
        }
    }

    /// Reads releases from `source` instead of the one the settings name (tests slow it down).
    pub fn with_source(mut self, source: Arc<dyn ReleaseSource>) -> Backend {
        self.source = Some(source);
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn is_demo(&self) -> bool {
        self.settings.demo
    }

    pub fn install_root(&self) -> &InstallRoot {
        &self.settings.install_root
    }

    pub fn source_location(&self) -> Option<String> {
        self.source.as_ref().map(|s| s.location())
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    pub(crate) fn take_receiver(&mut self) -> Option<Receiver<Reply>> {
        self.rx.take()
    }

    /// The instrument to start with: the policy's or the user's, else the last one used.
    pub fn first_instrument(&self) -> Option<String> {
        survey::preferred_instrument(&self.settings, &self.data_dir)
    }

    pub fn remember_instrument(&self, name: &str) {
        if !self.is_demo() {
            paths::remember_instrument(&self.data_dir, name);
        }
    }

    pub fn load_instruments(&self, ctx: &egui::Context) {
        let settings = self.settings.clone();
        self.spawn(ctx, "gui-instruments", move || {
            Reply::Instruments(survey::instruments(&settings))
        });
    }

    /// Deletes what installs superseded (see the core's `install::trash`) on a thread of its
    /// own, which nothing waits for.
    pub fn empty_trash(&self) {
        let root = self.settings.install_root.clone();
        if !trash::has_garbage(&root) {
            return;
        }
        let spawned = worker::spawn("gui-empty-trash", move || trash::empty(&root));
        if let Err(e) = spawned {
            tracing::warn!("the trash is left for later: {e}");
        }
    }

    /// Reads the whole fleet and the release source to compare it with (the Fleet view).
    pub fn load_fleet(&self, ctx: &egui::Context) {
        let settings = self.settings.clone();
        self.spawn(ctx, "gui-fleet", move || {
            Reply::Fleet(fleet::fleet(&settings).map(Arc::new))
        });
    }

    /// Asks where to save `contents` (an export named `file_name`) in the native dialog, and
    /// saves it there.
    pub fn save_export(&self, ctx: &egui::Context, file_name: &str, contents: String) {
        let dialog = rfd::AsyncFileDialog::new()
            .set_title("Save the fleet")
            .set_file_name(file_name);
        self.spawn(ctx, "gui-save-export", move || {
            let asked = Instant::now();
            let chosen = pollster::block_on(dialog.save_file()).map(|h| h.path().to_path_buf());
            let unavailable = no_dialog_was_shown(asked, chosen.is_some());
            let result = match chosen {
                Some(path) => {
                    fsx::write_atomically(&path, contents.as_bytes()).map(|()| Some(path))
                }
                None => Ok(None),
            };
            Reply::Exported {
                result,
                unavailable,
            }
        });
    }

    /// Does genie_python's per-user step if an install by another account left it pending.
    pub fn catch_up_profile(&self, ctx: &egui::Context) {
        let python = self
            .settings
            .install_root
            .component_dir(Component::GeniePython);
        self.spawn(ctx, "gui-ipython-profile", move || {
            Reply::Profile(ipython_profile::catch_up(&python))
        });
    }

    /// Reads the source once and answers everything the main view shows against `server`.
    pub fn load_overview(&self, ctx: &egui::Context, request: u64, server: Option<Version>) {
        let source = self.source.clone();
        let root = self.settings.install_root.clone();
        let no_source = self.settings.source().err();
        self.spawn(ctx, "gui-status", move || {
            let result = match (source, no_source) {
                (Some(source), _) => survey::overview(&*source, &root, server.as_ref()),
                (None, Some(e)) => Err(e),
                (None, None) => Err(UpdateError::NoReleaseSource {
                    policy: ibex_updater_core::config::policy::Policy::path(),
                }),
            };
            Reply::Overview {
                request,
                result: Box::new(result),
            }
        });
    }

    /// Plans `request` against `catalog` (the one the window shows) and installs the plan, as
    /// the command line's `install` does: components already at their target are skipped.
    pub fn install(
        &self,
        ctx: &egui::Context,
        catalog: Catalog,
        request: InstallRequest,
        progress: Arc<dyn Progress>,
    ) {
        let job = JobKind::Install(request.components.clone());
        let Some(source) = self.source.clone() else {
            return;
        };
        let root = self.settings.install_root.clone();
        let options = self.options.clone();
        self.spawn(ctx, "gui-install", move || {
            let result = plan::plan(&catalog, &root, &request)
                .and_then(|plan| apply::install(&*source, &root, &plan, &*progress, &options));
            Reply::Finished { job, result }
        });
    }

    pub fn rollback(
        &self,
        ctx: &egui::Context,
        components: Vec<Component>,
        progress: Arc<dyn Progress>,
    ) {
        let root = self.settings.install_root.clone();
        let options = self.options.clone();
        self.spawn(ctx, "gui-rollback", move || Reply::Finished {
            job: JobKind::Rollback(components.clone()),
            result: apply::rollback(&root, &components, &*progress, &options),
        });
    }

    /// Points the GUI at `instrument` (unless it is running) and starts it, as `launch` does.
    pub fn start_gui(&self, ctx: &egui::Context, instrument: Option<GuiInstrument>) {
        let root = self.settings.install_root.clone();
        self.spawn(ctx, "gui-start-ibex", move || {
            Reply::GuiStarted(launch::start_gui(&root, instrument.as_ref(), &[]))
        });
    }

    pub fn open_genie_python(&self, ctx: &egui::Context) {
        let root = self.settings.install_root.clone();
        self.spawn(ctx, "gui-start-genie", move || {
            Reply::GenieStarted(launch::start_genie_python(&root))
        });
    }

    /// Watches for every program running from `component`'s folder to close, until `stop` is
    /// set. Looks twice a second: a process list is cheap, and the user is waiting.
    pub fn wait_for_close(&self, ctx: &egui::Context, component: Component, stop: Arc<AtomicBool>) {
        let dir = self.settings.install_root.component_dir(component);
        self.spawn(ctx, "gui-wait-for-close", move || {
            while !stop.load(Ordering::Relaxed) {
                if running::running_from(&dir).is_none() {
                    return Reply::ClientClosed(true);
                }
                thread::sleep(Duration::from_millis(500));
            }
            Reply::ClientClosed(false)
        });
    }

    /// Replaces the running updater's binary with `build`.
    pub fn update_updater(&self, ctx: &egui::Context, build: UpdaterBuild) {
        let Some(source) = self.source.clone() else {
            return;
        };
        self.spawn(ctx, "gui-self-update", move || {
            let result = std::env::current_exe()
                .map_err(UpdateError::io("find", "the running ibex-updater"))
                .and_then(|exe| self_update::apply(&*source, &build, &exe, &NoProgress))
                .map(|()| build.version.clone());
            Reply::UpdaterReplaced(result)
        });
    }

    /// Reads the release source at `location` as these settings would, and sums up what it
    /// holds, without saving anything: the first-run setup's check.
    pub fn check_source(&self, ctx: &egui::Context, location: String) {
        let settings = self.settings.clone();
        self.spawn(ctx, "gui-check-source", move || {
            let summary = settings
                .open_source_at(&location)
                .and_then(|source| source.read_catalog())
                .map(|catalog| catalog.summary());
            Reply::SourceChecked { location, summary }
        });
    }

    /// Opens the native folder dialog without blocking the window.
    pub fn pick_folder(&self, ctx: &egui::Context, field: FolderField, title: &str) {
        let dialog = rfd::AsyncFileDialog::new().set_title(title);
        self.spawn(ctx, "gui-folder-dialog", move || {
            let asked = Instant::now();
            let path = pollster::block_on(dialog.pick_folder()).map(|h| h.path().to_path_buf());
            let unavailable = no_dialog_was_shown(asked, path.is_some());
            Reply::Folder {
                field,
                path,
                unavailable,
            }
        });
    }

    fn spawn(
        &self,
        ctx: &egui::Context,
        name: &str,
        work: impl FnOnce() -> Reply + Send + 'static,
    ) {
        let tx = self.tx.clone();
        let ctx = ctx.clone();
        let spawned = worker::spawn(name, move || {
            // The window may have closed meanwhile; then nobody needs the answer.
            let _ = tx.send(work());
            ctx.request_repaint();
        });
        if let Err(e) = spawned {
            tracing::error!("could not start the {name} thread: {e}");
        }
    }
}

/// rfd answers "nothing chosen" both when the user cancels and when no dialog could be shown (on
/// Linux without a desktop portal). Nobody cancels a dialog within a quarter of a second: an
/// answer that quick means there was no dialog.
fn no_dialog_was_shown(asked: Instant, chosen: bool) -> bool {
    !chosen && asked.elapsed() < Duration::from_millis(250)
}
