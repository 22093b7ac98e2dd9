//! The window's access to the core. Every call that reads the disk, the release source or
//! Channel Access runs on a named thread and answers with a [`Reply`] on a channel that the
//! window drains each frame; the thread asks for a repaint when it is done.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread;
use std::time::Duration;

use eframe::egui;

use crate::component::Component;
use crate::effective::Settings;
use crate::error::UpdateError;
use crate::index::UpdaterBuild;
use crate::install::{self, InstallOptions, InstallRoot, Report};
use crate::installed;
use crate::instrument_link::{self, InstrumentStatus};
use crate::paths;
use crate::source::{Kit, Release, ReleaseSource};
use crate::status::{self, Status};
use crate::upgrade;
use crate::version::{ClientVersion, ReleaseName, Version};

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
    /// A newer build of the updater itself, if the source's signed index lists one.
    UpdaterOffer(Option<UpdaterBuild>),
    /// The updater replaced its own binary (with this version), or why not.
    UpdaterReplaced(Result<String, UpdateError>),
    /// A folder chosen in the native dialog, or none if it was cancelled.
    Folder {
        field: FolderField,
        path: Option<PathBuf>,
    },
}

/// Everything the main view shows for one server version.
#[derive(Debug, Clone)]
pub struct Overview {
    pub releases: Vec<Release>,
    pub status: Status,
    /// The version each component would roll back to.
    pub previous: Vec<(Component, Option<ClientVersion>)>,
    pub notes: Option<(ReleaseName, String)>,
}

impl Overview {
    pub fn previous(&self, component: Component) -> Option<&ClientVersion> {
        self.previous
            .iter()
            .find(|(c, _)| *c == component)
            .and_then(|(_, v)| v.as_ref())
    }
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
            settings,
            options: InstallOptions {
                hostname: gethostname::gethostname().to_string_lossy().into_owned(),
                lock_wait: Duration::from_secs(5),
            },
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
        self.settings
            .instrument
            .clone()
            .or_else(|| paths::last_instrument(&self.data_dir))
    }

    pub fn remember_instrument(&self, name: &str) {
        if !self.is_demo() {
            paths::remember_instrument(&self.data_dir, name);
        }
    }

    pub fn load_instruments(&self, ctx: &egui::Context) {
        let ca = self.settings.ca.clone();
        self.spawn(ctx, "gui-instruments", move || {
            Reply::Instruments(
                instrument_link::instrument_list(&ca)
                    .map(|list| instrument_link::server_versions(&ca, list)),
            )
        });
    }

    /// Loads the releases, the status against `server` and the target release's notes.
    pub fn load_overview(&self, ctx: &egui::Context, request: u64, server: Option<Version>) {
        let source = self.source.clone();
        let root = self.settings.install_root.clone();
        let no_source = self.settings.source().err().map(|e| e.to_string());
        self.spawn(ctx, "gui-status", move || {
            let result = match source {
                Some(source) => overview(&*source, &root, server.as_ref()),
                None => Err(UpdateError::Usage(no_source.unwrap_or_default())),
            };
            Reply::Overview {
                request,
                result: Box::new(result),
            }
        });
    }

    pub fn install(
        &self,
        ctx: &egui::Context,
        kits: Vec<Kit>,
        progress: Arc<dyn crate::progress::Progress>,
    ) {
        let job = JobKind::Install(kits.iter().map(|k| k.component).collect());
        let Some(source) = self.source.clone() else {
            return;
        };
        let root = self.settings.install_root.clone();
        let options = self.options.clone();
        self.spawn(ctx, "gui-install", move || {
            let kits: Vec<&Kit> = kits.iter().collect();
            Reply::Finished {
                job,
                result: install::install(&root, &*source, &kits, &*progress, &options),
            }
        });
    }

    pub fn rollback(
        &self,
        ctx: &egui::Context,
        components: Vec<Component>,
        progress: Arc<dyn crate::progress::Progress>,
    ) {
        let root = self.settings.install_root.clone();
        let options = self.options.clone();
        self.spawn(ctx, "gui-rollback", move || {
            let strict = components.len() == 1;
            Reply::Finished {
                job: JobKind::Rollback(components.clone()),
                result: install::rollback(&root, &components, strict, &*progress, &options),
            }
        });
    }

    /// Looks for a newer build of the updater in the source's signed index.
    pub fn check_updater(&self, ctx: &egui::Context) {
        let Some(source) = self.source.clone() else {
            return;
        };
        self.spawn(ctx, "gui-updater-check", move || {
            let offer = match source.index() {
                Ok(index) => index.and_then(|index| {
                    upgrade::newer_build(
                        &index,
                        upgrade::CURRENT_VERSION,
                        upgrade::current_target(),
                    )
                    .cloned()
                }),
                Err(e) => {
                    tracing::warn!("could not look for a newer updater: {e}");
                    None
                }
            };
            Reply::UpdaterOffer(offer)
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
                .and_then(|exe| {
                    upgrade::apply(&*source, &build, &exe, &crate::progress::NoProgress)
                })
                .map(|()| build.version.clone());
            Reply::UpdaterReplaced(result)
        });
    }

    /// Opens the native folder dialog without blocking the window.
    pub fn pick_folder(&self, ctx: &egui::Context, field: FolderField, title: &str) {
        let dialog = rfd::AsyncFileDialog::new().set_title(title);
        self.spawn(ctx, "gui-folder-dialog", move || Reply::Folder {
            field,
            path: pollster::block_on(dialog.pick_folder()).map(|h| h.path().to_path_buf()),
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
        let spawned = thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                // The window may have closed meanwhile; then nobody needs the answer.
                let _ = tx.send(work());
                ctx.request_repaint();
            });
        if let Err(e) = spawned {
            tracing::error!("could not start the {name} thread: {e}");
        }
    }
}

fn overview(
    source: &dyn ReleaseSource,
    root: &InstallRoot,
    server: Option<&Version>,
) -> Result<Overview, UpdateError> {
    let releases = source.releases()?;
    let status = status::evaluate(root, &releases, server)?;
    let previous = Component::ALL
        .into_iter()
        .map(|c| (c, installed::version_in(&root.previous_dir(c))))
        .collect();
    let notes = status
        .components
        .iter()
        .find_map(|c| c.target.as_ref())
        .and_then(|kit| Some((kit.release.clone(), source.release_notes(&kit.release)?)));
    Ok(Overview {
        releases,
        status,
        previous,
        notes,
    })
}
