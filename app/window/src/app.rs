//! The main window: instrument picker on the left, the two components and the actions in the
//! middle, progress and messages at the bottom.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Receiver;

use eframe::egui::{self, RichText};
use egui_commonmark::{CommonMarkCache, CommonMarkViewer};

use super::backend::{Backend, FolderField, JobKind, Reply};
use super::components_view::{self, Action};
use super::confirm_rollback::{self, Answer};
use super::first_run::{FirstRun, FirstRunAction};
use super::fleet_view::{FleetAction, FleetView};
use super::history_view;
use super::instrument_picker;
use super::job_progress::JobProgress;
use super::notices::{self, Notice};
use super::release_picker::ReleasePicker;
use super::settings_view::{SettingsAction, SettingsForm};
use super::theme;
use super::typed_server::TypedServer;
use super::unsigned_source;
use super::wait_for_close::{Blocked, Choice, Retry};
use ibex_updater_core::client::component::Component;
use ibex_updater_core::client::gui_preference::GuiInstrument;
use ibex_updater_core::client::verdict::Verdict;
use ibex_updater_core::client::version::{ReleaseName, Version};
use ibex_updater_core::config::resolved::Settings;
use ibex_updater_core::config::user::UserSettings;
use ibex_updater_core::error::UpdateError;
use ibex_updater_core::index::UpdaterBuild;
use ibex_updater_core::install::Report;
use ibex_updater_core::instrument::link::InstrumentStatus;
use ibex_updater_core::usecase::plan::InstallRequest;
use ibex_updater_core::usecase::self_update::CURRENT_VERSION;
use ibex_updater_core::usecase::survey::Overview;

/// `None` while loading.
type Loading<T> = Option<Result<T, UpdateError>>;

pub struct UpdaterApp {
    backend: Backend,
    replies: Receiver<Reply>,
    instruments: Loading<Vec<InstrumentStatus>>,
    filter: String,
    selected: Option<String>,
    overview: Loading<Overview>,
    /// The overview request the window waits for; older answers are dropped.
    overview_request: u64,
    job: Option<(JobKind, Arc<JobProgress>)>,
    notices: Vec<Notice>,
    settings_form: SettingsForm,
    /// The setup shown instead of the main view while no release source is configured.
    first_run: Option<FirstRun>,
    fleet_view: FleetView,
    release_picker: ReleasePicker,
    notes_cache: CommonMarkCache,
    started: bool,
    first_frame_logged: bool,
    /// A server version typed by hand when no instrument can be read.
    typed_server: TypedServer,
    /// The job last started, to run again after waiting for a running client to close.
    last_job: Option<Retry>,
    /// A job refused because the client is running.
    blocked: Option<Blocked>,
    /// An install to run again once the overview being read is in: the client closed while the
    /// window was reading it.
    retry_after_overview: Option<InstallRequest>,
    /// A rollback asked for and waiting for the user's yes.
    confirming_rollback: Option<Component>,
    /// A newer build of the updater itself, offered above the main view.
    updater_offer: Option<UpdaterBuild>,
    updating_updater: bool,
}

/// Logged once the first frame has been presented.
pub const FIRST_FRAME_LOG: &str = "first frame presented";

impl std::fmt::Debug for UpdaterApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdaterApp")
            .field("selected", &self.selected)
            .field("job", &self.job.as_ref().map(|(kind, _)| kind))
            .field("notices", &self.notices)
            .finish_non_exhaustive()
    }
}

impl UpdaterApp {
    /// The first frame starts reading the instruments and the installed client.
    pub fn new(mut backend: Backend) -> UpdaterApp {
        let (tx, rx) = std::sync::mpsc::channel();
        let replies = backend.take_receiver().unwrap_or_else(|| {
            // A backend hands its receiver out once; a second window gets a dead channel.
            drop(tx);
            rx
        });
        UpdaterApp {
            selected: backend.first_instrument(),
            first_run: FirstRun::needed(backend.settings()),
            fleet_view: FleetView::default(),
            backend,
            replies,
            instruments: None,
            filter: String::new(),
            overview: None,
            overview_request: 0,
            job: None,
            notices: Vec::new(),
            settings_form: SettingsForm::default(),
            release_picker: ReleasePicker::default(),
            notes_cache: CommonMarkCache::default(),
            started: false,
            typed_server: TypedServer::default(),
            last_job: None,
            blocked: None,
            retry_after_overview: None,
            confirming_rollback: None,
            updater_offer: None,
            updating_updater: false,
            first_frame_logged: false,
        }
    }

    /// The messages on show, newest last (for tests and the log).
    pub fn notices(&self) -> impl Iterator<Item = &str> {
        self.notices.iter().map(|n| n.headline.as_str())
    }

    pub fn is_busy(&self) -> bool {
        self.job.is_some()
    }

    /// Nothing is on its way: no job runs and the instruments and the overview are in. A frame
    /// drawn now shows what the window will keep showing (tests take snapshots then).
    pub fn is_settled(&self) -> bool {
        !self.is_busy()
            && self.instruments.is_some()
            && self.overview.is_some()
            && !self.fleet_view.is_loading()
    }

    /// Draws one frame.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if !self.started {
            self.started = true;
            // The demo's client is not the user's: its setup stays out of their profile.
            if !self.backend.is_demo() {
                self.backend.catch_up_profile(&ctx);
            }
            self.backend.load_instruments(&ctx);
            self.reload_overview(&ctx);
            self.backend.empty_trash();
        } else if !self.first_frame_logged {
            // The previous frame is on screen now; `bench-window` waits for this line.
            self.first_frame_logged = true;
            tracing::info!("{FIRST_FRAME_LOG}");
        }
        self.drain_replies(&ctx);

        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("bottom").show(ui, |ui| self.bottom_bar(ui));
        egui::Panel::left("instruments")
            .default_size(250.0)
            .size_range(180.0..=420.0)
            .show(ui, |ui| self.instrument_panel(ui));
        egui::CentralPanel::default_margins().show(ui, |ui| {
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| match &mut self.first_run {
                    _ if self.fleet_view.open => {
                        let action = self.fleet_view.show(ui);
                        self.fleet_action(&ctx, action);
                    }
                    Some(setup) => {
                        let action = setup.show(ui, self.backend.settings());
                        self.first_run_action(&ctx, action);
                    }
                    None => self.main_view(ui),
                });
        });

        let releases = match &self.overview {
            Some(Ok(o)) => o.catalog.releases.as_slice(),
            _ => &[],
        };
        if let Some(release) = self.release_picker.show(&ctx, releases) {
            self.install_release(&ctx, &release);
        }
        match self.settings_form.show(&ctx, self.backend.settings()) {
            Some(SettingsAction::Browse(field)) => self.browse(&ctx, field),
            Some(SettingsAction::Save(user)) => self.save_settings(&ctx, &user),
            None => {}
        }
    }

    fn drain_replies(&mut self, ctx: &egui::Context) {
        while let Ok(reply) = self.replies.try_recv() {
            match reply {
                Reply::Instruments(result) => {
                    if let Err(e) = &result {
                        self.notify([Notice::error("Reading the instrument list", e)]);
                    }
                    self.instruments = Some(result);
                    self.reload_overview(ctx);
                }
                Reply::Overview { request, result } => {
                    if request == self.overview_request {
                        if let Ok(overview) = &*result
                            && !self.backend.is_demo()
                            && !self.updating_updater
                        {
                            self.updater_offer = overview.updater_offer.clone();
                        }
                        self.overview = Some(*result);
                        if let Some(request) = self.retry_after_overview.take() {
                            self.retry(ctx, Retry::Install(request));
                        }
                    }
                }
                Reply::Finished { job, result } => {
                    self.job = None;
                    if let Err(UpdateError::ClientRunning { component, .. }) = &result {
                        self.blocked = self.last_job.clone().map(|retry| Blocked {
                            component: *component,
                            retry,
                            waiting: None,
                        });
                    }
                    self.finished(&job, result);
                    self.reload_overview(ctx);
                    self.backend.empty_trash();
                }
                Reply::ClientClosed(closed) => {
                    let waited = self.blocked.take_if(|b| b.waiting.is_some());
                    if let (true, Some(blocked)) = (closed, waited) {
                        self.retry(ctx, blocked.retry);
                    }
                }
                Reply::UpdaterReplaced(result) => {
                    self.updater_offer = None;
                    self.updating_updater = false;
                    match result {
                        Ok(version) => self.notify([Notice::success(format!(
                            "IBEX Updater was updated to {version}. Close and reopen it to use the new version."
                        ))]),
                        Err(e) => self.notify([Notice::error("Updating IBEX Updater", &e)]),
                    }
                }
                Reply::Profile(step) => self.notify(Notice::profile(&step)),
                Reply::GuiStarted(result) => self.notify([Notice::gui_started(result)]),
                Reply::GenieStarted(result) => self.notify([match result {
                    Ok(_) => Notice::success("Opened genie_python."),
                    Err(e) => Notice::error("Opening genie_python", &e),
                }]),
                Reply::Folder {
                    field,
                    path,
                    unavailable,
                } => match &mut self.first_run {
                    Some(setup) => {
                        if let Some(path) = path {
                            setup.set_folder(field, &path);
                        }
                        setup.no_dialog = unavailable;
                    }
                    None => {
                        if let Some(path) = path {
                            self.settings_form.set_folder(field, &path);
                        }
                        self.settings_form.no_dialog = unavailable;
                    }
                },
                Reply::Fleet(fleet) => self.fleet_view.loaded(fleet),
                Reply::Exported {
                    result,
                    unavailable,
                } => self.fleet_view.exported(result, unavailable),
                Reply::SourceChecked { location, summary } => {
                    if let Some(setup) = &mut self.first_run {
                        setup.source_checked(location, summary);
                    }
                }
            }
        }
    }

    fn finished(&mut self, job: &JobKind, result: Result<Report, UpdateError>) {
        let doing = match job {
            JobKind::Install(_) => "The install",
            JobKind::Rollback(_) => "The rollback",
        };
        // Shown after what happened to the client, which they never change.
        let aside: Vec<Notice> = result.as_ref().map_or_else(
            |_| Vec::new(),
            |report| {
                let edited = report
                    .edited
                    .iter()
                    .map(|(component, files)| Notice::edited(*component, files));
                let profile = report.ipython_profile.as_ref().and_then(Notice::profile);
                let epics_utils = report.epics_utils.as_ref().and_then(Notice::epics_utils);
                let mixed = report.mixed_lines.as_ref().map(Notice::mixed_lines);
                edited
                    .chain(profile)
                    .chain(epics_utils)
                    .chain(mixed)
                    .collect()
            },
        );
        match result {
            Ok(report) if report.changes.is_empty() => {
                self.notify([Notice::success(
                    "Nothing to install: your client already has these versions.",
                )]);
            }
            Ok(report) => {
                let verb = match job {
                    JobKind::Install(_) => "Installed",
                    JobKind::Rollback(_) => "Rolled back to",
                };
                let what = report
                    .changes
                    .iter()
                    .map(|c| {
                        let switched = if c.files.is_some_and(|f| f.switched) {
                            " (kept on this computer, so switched in at once)"
                        } else if c.files.is_some_and(|f| f.intact) {
                            " (already intact: nothing needed writing)"
                        } else {
                            ""
                        };
                        format!(
                            "{} {}{switched}",
                            c.component,
                            c.to.as_ref()
                                .map_or_else(|| "nothing".to_string(), ToString::to_string)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" and ");
                tracing::info!("{verb} {what}");
                self.notify([Notice::success(format!("{verb} {what}."))]);
            }
            Err(e) => self.notify([Notice::error(doing, &e)]),
        }
        self.notices.extend(aside);
    }

    /// Shows `new` notices. What succeeded before is old news and makes way; errors stay until
    /// they are dismissed.
    fn notify(&mut self, new: impl IntoIterator<Item = Notice>) {
        self.notices.retain(|n| n.is_error);
        self.notices.extend(new);
    }

    /// The selected instrument and what it answered, once the list is in.
    fn selected_status(&self) -> Option<&InstrumentStatus> {
        let selected = self.selected.as_deref()?;
        let Some(Ok(list)) = &self.instruments else {
            return None;
        };
        list.iter()
            .find(|s| s.instrument.name.eq_ignore_ascii_case(selected))
    }

    /// The selected instrument as the GUI's preference names it.
    fn selected_instrument(&self) -> Option<GuiInstrument> {
        self.selected_status().map(|s| GuiInstrument {
            name: s.instrument.name.clone(),
            host: s.instrument.host.clone(),
            pv_prefix: s.instrument.pv_prefix.clone(),
        })
    }

    /// The server version of the selected instrument, if it answered.
    /// The instrument the main view is about: none while the instrument list cannot be read,
    /// when a version typed by hand stands in for one.
    fn shown_instrument(&self) -> Option<&str> {
        match &self.instruments {
            Some(Err(_)) => None,
            _ => self.selected.as_deref(),
        }
    }

    /// The instrument's version, or without an instrument list the one typed by hand.
    fn server_version(&self) -> Option<Version> {
        match &self.instruments {
            Some(Err(_)) => self.typed_server.version.clone(),
            _ => self
                .selected_status()
                .and_then(|s| s.server_version.as_ref().ok().cloned()),
        }
    }

    fn reload_overview(&mut self, ctx: &egui::Context) {
        self.overview_request += 1;
        self.overview = None;
        self.backend
            .load_overview(ctx, self.overview_request, self.server_version());
    }

    fn select(&mut self, ctx: &egui::Context, name: String) {
        self.backend.remember_instrument(&name);
        self.selected = Some(name);
        self.reload_overview(ctx);
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("IBEX Updater");
            if self.backend.is_demo() {
                ui.label(
                    RichText::new("DEMO")
                        .strong()
                        .color(egui::Color32::WHITE)
                        .background_color(egui::Color32::from_rgb(0x6a, 0x1b, 0x9a)),
                );
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .add_enabled(!self.is_busy(), egui::Button::new("Settings"))
                    .clicked()
                {
                    self.settings_form.open_with(self.backend.settings());
                }
                if ui.button("Refresh").clicked() {
                    self.instruments = None;
                    self.backend.load_instruments(ui.ctx());
                    self.reload_overview(ui.ctx());
                }
                if !self.fleet_view.open
                    && ui
                        .button("Fleet")
                        .on_hover_text("Which instruments run which release")
                        .clicked()
                {
                    self.fleet_action(ui.ctx(), Some(FleetAction::Refresh));
                }
            });
        });
    }

    fn instrument_panel(&mut self, ui: &mut egui::Ui) {
        ui.heading("Instruments");
        match &self.instruments {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Reading the instrument list…");
                });
            }
            Some(Err(e)) => {
                let why = e.to_string();
                if self.typed_server.show(ui, &why) {
                    self.reload_overview(&ui.ctx().clone());
                }
            }
            Some(Ok(list)) => {
                if let Some(picked) =
                    instrument_picker::show(ui, &mut self.filter, list, self.selected.as_deref())
                {
                    self.select(&ui.ctx().clone(), picked);
                }
            }
        }
    }

    fn bottom_bar(&mut self, ui: &mut egui::Ui) {
        if let Some((kind, progress)) = &self.job {
            job_view(ui, kind, progress);
        }
        let location = self
            .backend
            .source_location()
            .unwrap_or_else(|| "not set".into());
        ui.label(
            RichText::new(format!(
                "Release source: {location}    Install folder: {}",
                self.backend.install_root().path().display()
            ))
            .small(),
        );
    }

    fn main_view(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let mut dismissed = None;
        for (i, notice) in self.notices.iter().enumerate() {
            if notices::show(ui, notice) {
                dismissed = Some(i);
            }
        }
        if let Some(i) = dismissed {
            self.notices.remove(i);
        }
        self.blocked_view(ui);
        self.updater_offer_view(ui);

        let server = self.server_version();
        let shown = self.shown_instrument().map(String::from);
        ui.heading(match (&shown, &server) {
            (Some(name), Some(v)) => format!("{name} runs IBEX {v}"),
            (Some(name), None) if self.instruments.is_none() => {
                format!("{name}: asking the instrument…")
            }
            (Some(name), None) => format!("{name} did not answer"),
            (None, Some(v)) => format!("A server running IBEX {v} (typed by hand)"),
            (None, None) => "Pick your instrument on the left".to_string(),
        });
        ui.add_space(6.0);

        let overview = match &self.overview {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Reading the installed client and the release source…");
                });
                return;
            }
            Some(Err(e)) => {
                let notice = Notice::error("Reading the release source", e);
                notices::show_state(ui, &notice);
                return;
            }
            Some(Ok(overview)) => overview.clone(),
        };
        if let (Some(name), Some(_)) = (&shown, &overview.status.server) {
            let worst = overview.status.worst();
            if let Some(line) = overall_line(worst, name) {
                ui.label(
                    RichText::new(line)
                        .strong()
                        .color(theme::verdict_colour(worst)),
                );
                ui.add_space(4.0);
            }
        }
        unsigned_source::show(ui, &overview.catalog);
        let busy = self.is_busy();
        let can_install = !busy && unsigned_source::installs_allowed(&overview.catalog);
        if let Some(action) = components_view::show(ui, &overview, shown.as_deref(), busy) {
            match action {
                Action::Install(c) => self.install_matching(&ctx, &overview, vec![c]),
                Action::Rollback(c) => self.confirming_rollback = Some(c),
            }
        }
        ui.add_space(8.0);
        ui.horizontal_wrapped(|ui| {
            let needs_update = overview.status.worst().severity() > 0;
            let instrument = self.selected_instrument();
            let start_label = instrument.as_ref().map_or_else(
                || "Start IBEX GUI".to_string(),
                |i| format!("Start IBEX GUI on {}", i.name),
            );
            // The main action is whatever the client needs next: an update, or starting IBEX.
            let matches = server.is_some() && !needs_update;
            if matches {
                let start = egui::Button::new(RichText::new(&start_label).strong())
                    .fill(ui.visuals().selection.bg_fill);
                if ui.add_enabled(!busy, start).clicked() {
                    self.backend.start_gui(&ctx, instrument.clone());
                }
            } else {
                let enabled = can_install && server.is_some() && needs_update;
                let mut primary =
                    egui::Button::new(RichText::new("Install matching client").strong());
                // Only an action that can be taken gets the highlight.
                if enabled {
                    primary = primary.fill(ui.visuals().selection.bg_fill);
                }
                let response =
                    ui.add_enabled(enabled, primary)
                        .on_disabled_hover_text(if server.is_none() {
                            "Pick an instrument that answers first."
                        } else if needs_update {
                            unsigned_source::INSTALLS_OFF
                        } else {
                            "Your client already matches."
                        });
                if response.clicked() {
                    self.install_matching(&ctx, &overview, Component::ALL.to_vec());
                }
                let start = ui
                    .add_enabled(!busy, egui::Button::new(&start_label))
                    .on_hover_text("Starts the IBEX GUI you have, as it is.");
                if start.clicked() {
                    self.backend.start_gui(&ctx, instrument.clone());
                }
            }
            if ui
                .add_enabled(!busy, egui::Button::new("Open genie_python"))
                .clicked()
            {
                self.backend.open_genie_python(&ctx);
            }
            if ui
                .add_enabled(
                    can_install,
                    egui::Button::new("Install a specific release…"),
                )
                .on_disabled_hover_text(unsigned_source::INSTALLS_OFF)
                .clicked()
            {
                self.release_picker.open = true;
            }
        });

        if let Some((release, notes)) = &overview.notes {
            ui.add_space(8.0);
            egui::CollapsingHeader::new(format!("Release notes for {release}"))
                .default_open(true)
                .show(ui, |ui| {
                    CommonMarkViewer::new().show(ui, &mut self.notes_cache, notes);
                });
        }
        ui.add_space(8.0);
        history_view::show(ui, &overview.history);

        if let Some(component) = self.confirming_rollback {
            match confirm_rollback::ask(&ctx, component, &overview) {
                Some(Answer::RollBack(c)) => {
                    self.confirming_rollback = None;
                    self.start_rollback(&ctx, vec![c]);
                }
                Some(Answer::Cancel) => self.confirming_rollback = None,
                None => {}
            }
        }
    }

    fn updater_offer_view(&mut self, ui: &mut egui::Ui) {
        let Some(build) = self.updater_offer.clone() else {
            return;
        };
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal_wrapped(|ui| {
                ui.label(format!(
                    "IBEX Updater {} is available (this is {}).",
                    build.version, CURRENT_VERSION
                ));
                let label = if self.updating_updater {
                    "Updating…"
                } else {
                    "Update IBEX Updater"
                };
                if ui
                    .add_enabled(!self.updating_updater, egui::Button::new(label))
                    .clicked()
                {
                    self.updating_updater = true;
                    self.backend.update_updater(ui.ctx(), build.clone());
                }
            });
        });
    }

    /// Installs the target of each of `components` for the selected instrument's server that is
    /// not already installed, as one transaction.
    fn install_matching(
        &mut self,
        ctx: &egui::Context,
        overview: &Overview,
        components: Vec<Component>,
    ) {
        let request = InstallRequest::matching(overview.status.server.as_ref(), components);
        self.start_install(ctx, overview, request);
    }

    /// "Install a specific release…": exactly that release folder, both components, planned as
    /// `install --version` plans it.
    fn install_release(&mut self, ctx: &egui::Context, release: &ReleaseName) {
        let Some(Ok(overview)) = &self.overview else {
            return;
        };
        let overview = overview.clone();
        self.start_install(ctx, &overview, InstallRequest::release(release.clone()));
    }

    fn start_install(&mut self, ctx: &egui::Context, overview: &Overview, request: InstallRequest) {
        self.blocked = None;
        self.last_job = Some(Retry::Install(request.clone()));
        let progress = Arc::new(JobProgress::new(ctx));
        let components = request.components.clone();
        self.backend
            .install(ctx, overview.catalog.clone(), request, progress.clone());
        self.job = Some((JobKind::Install(components), progress));
    }

    fn start_rollback(&mut self, ctx: &egui::Context, components: Vec<Component>) {
        self.blocked = None;
        self.last_job = Some(Retry::Rollback(components.clone()));
        let progress = Arc::new(JobProgress::new(ctx));
        self.backend
            .rollback(ctx, components.clone(), progress.clone());
        self.job = Some((JobKind::Rollback(components), progress));
    }

    /// The offer to wait for a running client, or the wait in progress.
    fn blocked_view(&mut self, ui: &mut egui::Ui) {
        let Some(blocked) = &mut self.blocked else {
            return;
        };
        match blocked.show(ui) {
            Some(Choice::Wait) => {
                let stop = Arc::new(AtomicBool::new(false));
                blocked.waiting = Some(stop.clone());
                self.backend
                    .wait_for_close(ui.ctx(), blocked.component, stop);
            }
            Some(Choice::StopWaiting) => {
                blocked.stop_waiting();
                self.blocked = None;
            }
            None => {}
        }
        ui.add_space(6.0);
    }

    /// Runs a job refused earlier again, now that the client has closed.
    fn retry(&mut self, ctx: &egui::Context, retry: Retry) {
        match retry {
            Retry::Install(request) => match &self.overview {
                Some(Ok(overview)) => {
                    let overview = overview.clone();
                    self.start_install(ctx, &overview, request);
                }
                // The plan needs the catalog: go on when it is in.
                None => self.retry_after_overview = Some(request),
                Some(Err(e)) => {
                    let notice = Notice::error("Installing after the wait", e);
                    self.notify([notice]);
                }
            },
            Retry::Rollback(components) => self.start_rollback(ctx, components),
        }
    }

    fn browse(&self, ctx: &egui::Context, field: FolderField) {
        let title = match field {
            FolderField::ReleaseSource => "Choose the release share",
            FolderField::InstallRoot => "Choose the install folder",
        };
        self.backend.pick_folder(ctx, field, title);
    }

    fn fleet_action(&mut self, ctx: &egui::Context, action: Option<FleetAction>) {
        match action {
            Some(FleetAction::Refresh) => {
                self.fleet_view.reading();
                self.backend.load_fleet(ctx);
            }
            Some(FleetAction::Save {
                file_name,
                contents,
            }) => self.backend.save_export(ctx, &file_name, contents),
            Some(FleetAction::Close) => self.fleet_view.open = false,
            None => {}
        }
    }

    fn first_run_action(&mut self, ctx: &egui::Context, action: Option<FirstRunAction>) {
        match action {
            Some(FirstRunAction::Browse(field)) => self.browse(ctx, field),
            Some(FirstRunAction::Check(location)) => self.backend.check_source(ctx, location),
            Some(FirstRunAction::Save(user)) => self.save_settings(ctx, &user),
            None => {}
        }
    }

    fn save_settings(&mut self, ctx: &egui::Context, user: &UserSettings) {
        let path = UserSettings::path();
        let saved = user
            .save_to(&path)
            .and_then(|()| Settings::resolve(&self.backend.settings().overrides));
        match saved {
            Ok(settings) => {
                self.backend = Backend::new(settings, self.backend.data_dir().to_path_buf());
                self.first_run = FirstRun::needed(self.backend.settings());
                if let Some(rx) = self.backend.take_receiver() {
                    self.replies = rx;
                }
                self.notify([Notice::success(format!(
                    "Settings saved to {}.",
                    path.display()
                ))]);
                self.instruments = None;
                self.backend.load_instruments(ctx);
                self.reload_overview(ctx);
            }
            Err(e) => self.notify([Notice::error("Saving the settings", &e)]),
        }
    }
}

/// The running job: each stage with bytes, rate and time left, and Cancel.
fn job_view(ui: &mut egui::Ui, kind: &JobKind, progress: &JobProgress) {
    let snapshot = progress.snapshot();
    let title = match kind {
        JobKind::Install(_) => "Installing",
        JobKind::Rollback(_) => "Rolling back",
    };
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.strong(title);
        for (component, stage) in &snapshot.finished {
            ui.label(RichText::new(format!("{component} {}: done", stage.label())).small());
        }
    });
    ui.horizontal(|ui| {
        ui.add(snapshot.bar().desired_width(ui.available_width() - 140.0));
        if matches!(kind, JobKind::Install(_)) {
            let label = if snapshot.cancel_requested {
                "Cancelling…"
            } else {
                "Cancel install"
            };
            if ui
                .add_enabled(!snapshot.cancel_requested, egui::Button::new(label))
                .clicked()
            {
                progress.request_cancel();
            }
        }
    });
    ui.add_space(4.0);
}

impl eframe::App for UpdaterApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}

/// One line for the whole client against the instrument picked, by its most urgent verdict.
fn overall_line(worst: Verdict, instrument: &str) -> Option<String> {
    Some(match worst {
        Verdict::UpToDate => format!("Your client matches {instrument}."),
        Verdict::UpdateAvailable => {
            format!("Your client works with {instrument}; an update with bug fixes is available.")
        }
        Verdict::UpdateRecommended => format!(
            "Your client is likely to work with {instrument}, but an update is recommended."
        ),
        Verdict::UpdateRequired => {
            format!("Update required for {instrument}: your client will not work with it.")
        }
        Verdict::NotInstalled => format!("Install the client to work with {instrument}."),
        Verdict::Development | Verdict::Unknown => return None,
    })
}
