//! The pop-up that `check --prompt` and `launch` open when the client does not match the
//! instrument: what "Update now" would install and fetch, the release notes, "Update now",
//! "Remind me later" and, unless the mismatch is a major one, "Skip this version". After an
//! update it offers to start the IBEX GUI; opened by `launch`, every answer goes on to start it.

use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use eframe::egui::{self, RichText};

use super::backend::{Backend, Reply};
use super::explain;
use super::job_progress::JobProgress;
use super::notices::{self, Notice};
use super::theme;
use super::unsigned_source;
use ibex_updater_core::catalog::Catalog;
use ibex_updater_core::client::component::Component;
use ibex_updater_core::client::version::ReleaseName;
use ibex_updater_core::release::Kit;
use ibex_updater_core::usecase::plan::InstallRequest;
use ibex_updater_core::usecase::prompt::PromptMemory;
use ibex_updater_core::usecase::status::{Status, target_version};

/// What the user chose; the command maps it to its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptOutcome {
    Updated,
    /// Updated, and the user asked for the IBEX GUI to be started.
    UpdatedStartGui,
    RemindLater,
    Skipped,
    /// Closed the window without choosing, or the update failed or was cancelled.
    Dismissed,
}

/// Where the outcome is left for the caller once the window has closed.
#[derive(Debug, Clone, Default)]
pub struct OutcomeHandle(Arc<Mutex<Option<PromptOutcome>>>);

impl OutcomeHandle {
    fn set(&self, outcome: PromptOutcome) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
    }

    pub fn take(&self) -> PromptOutcome {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or(PromptOutcome::Dismissed)
    }
}

#[derive(Debug)]
enum Phase {
    Asking,
    Updating(Arc<JobProgress>),
    Done(Notice),
}

pub struct PromptApp {
    backend: Backend,
    replies: Option<Receiver<Reply>>,
    instrument: String,
    catalog: Catalog,
    status: Status,
    can_skip: bool,
    remind_after: Duration,
    memory_path: PathBuf,
    phase: Phase,
    outcome: OutcomeHandle,
    notes: Option<(ReleaseName, String)>,
    /// Opened by `launch`: whatever the answer, the GUI starts when the pop-up closes.
    launching: bool,
}

impl std::fmt::Debug for PromptApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptApp")
            .field("instrument", &self.instrument)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl PromptApp {
    pub fn new(
        mut backend: Backend,
        instrument: String,
        catalog: Catalog,
        status: Status,
        can_skip: bool,
        remind_after: Duration,
        memory_path: PathBuf,
    ) -> PromptApp {
        PromptApp {
            replies: backend.take_receiver(),
            backend,
            instrument,
            catalog,
            status,
            can_skip,
            remind_after,
            memory_path,
            phase: Phase::Asking,
            outcome: OutcomeHandle::default(),
            notes: None,
            launching: false,
        }
    }

    /// Shows `notes` (the target release's) behind a toggle.
    pub fn with_notes(mut self, notes: Option<(ReleaseName, String)>) -> PromptApp {
        self.notes = notes;
        self
    }

    /// Opened by `launch`, which starts the GUI when the pop-up closes.
    pub fn launching(mut self) -> PromptApp {
        self.launching = true;
        self
    }

    pub fn outcome_handle(&self) -> OutcomeHandle {
        self.outcome.clone()
    }

    fn remember(&self, change: impl FnOnce(&mut PromptMemory)) {
        let mut memory = PromptMemory::load_from(&self.memory_path);
        change(&mut memory);
        if let Err(e) = memory.save_to(&self.memory_path) {
            tracing::warn!("could not remember the answer: {e}");
        }
    }

    fn close(&self, ctx: &egui::Context, outcome: PromptOutcome) {
        self.outcome.set(outcome);
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }

    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if let Some(Reply::Finished { result, .. }) =
            self.replies.as_ref().and_then(|rx| rx.try_recv().ok())
        {
            self.phase = Phase::Done(match result {
                Ok(_) => {
                    self.outcome.set(PromptOutcome::Updated);
                    self.remember(|m| m.forget(&self.instrument));
                    Notice::success("Your IBEX client now matches. You can start the IBEX GUI.")
                }
                Err(e) => Notice::error("The update", &e),
            });
        }
        egui::CentralPanel::default_margins().show(ui, |ui| match &self.phase {
            Phase::Asking => self.asking(ui, &ctx),
            Phase::Updating(progress) => {
                let snapshot = progress.snapshot();
                ui.heading("Updating the IBEX client…");
                ui.add(snapshot.bar());
                if ui
                    .add_enabled(
                        !snapshot.cancel_requested,
                        egui::Button::new("Cancel update"),
                    )
                    .clicked()
                {
                    progress.request_cancel();
                }
            }
            Phase::Done(notice) => {
                notices::show_state(ui, notice);
                let updated = !notice.is_error;
                ui.horizontal(|ui| {
                    if updated
                        && ui
                            .button(RichText::new("Start IBEX GUI").strong())
                            .clicked()
                    {
                        self.close(&ctx, PromptOutcome::UpdatedStartGui);
                    }
                    let close = if self.launching && !updated {
                        "Start the IBEX GUI you have"
                    } else {
                        "Close"
                    };
                    if ui.button(close).clicked() {
                        let outcome = self.outcome.take();
                        self.close(&ctx, outcome);
                    }
                });
            }
        });
    }

    fn asking(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        let worst = self.status.worst();
        ui.horizontal(|ui| {
            theme::badge(ui, worst);
            ui.heading(format!(
                "Your IBEX client does not match {}",
                self.instrument
            ));
        });
        ui.add_space(6.0);
        for component in self
            .status
            .components
            .iter()
            .filter(|c| c.verdict.severity() > 0)
        {
            ui.label(explain::sentence(
                component,
                self.status.server.as_ref(),
                Some(&self.instrument),
            ));
        }
        // An update that would be refused is not described as if it were on offer.
        let allowed = unsigned_source::installs_allowed(&self.catalog);
        if let Some(what) = self.what_update_installs().filter(|_| allowed) {
            ui.add_space(4.0);
            ui.label(what);
        }
        if self.launching && !self.can_skip {
            ui.label(
                RichText::new(format!(
                    "The IBEX GUI you have will not work with {}. You can still start it.",
                    self.instrument
                ))
                .strong(),
            );
        }
        ui.add_space(10.0);
        unsigned_source::show(ui, &self.catalog);
        ui.horizontal(|ui| {
            let mut update = egui::Button::new(RichText::new("Update now").strong());
            if allowed {
                update = update.fill(ui.visuals().selection.bg_fill);
            }
            if ui
                .add_enabled(allowed, update)
                .on_disabled_hover_text(unsigned_source::INSTALLS_OFF)
                .clicked()
            {
                let progress = Arc::new(JobProgress::new(ctx));
                let request =
                    InstallRequest::matching(self.status.server.as_ref(), Component::ALL.to_vec());
                self.backend
                    .install(ctx, self.catalog.clone(), request, progress.clone());
                self.phase = Phase::Updating(progress);
            }
            if ui.button("Remind me later").clicked() {
                let wait = self.remind_after;
                self.remember(|m| m.remind_later(&self.instrument, SystemTime::now(), wait));
                self.close(ctx, PromptOutcome::RemindLater);
            }
            if self.can_skip && ui.button("Skip this version").clicked() {
                self.remember(|m| m.skip(&self.instrument, &self.status));
                self.close(ctx, PromptOutcome::Skipped);
            }
        });
        if !self.can_skip {
            ui.label(RichText::new("This update is required, so it cannot be skipped.").small());
        }
        if self.launching {
            ui.label(RichText::new("Whichever you choose, the IBEX GUI starts next.").small());
        }
        if let Some((release, notes)) = &self.notes {
            ui.add_space(4.0);
            egui::CollapsingHeader::new(format!("Release notes for {release}"))
                .default_open(false)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .max_height(120.0)
                        .show(ui, |ui| {
                            ui.label(notes.as_str());
                        });
                });
        }
    }

    /// "Update now installs IBEX GUI 26.2.1.1302 and genie_python 26.2.1.1302 (310 MB to fetch)."
    fn what_update_installs(&self) -> Option<String> {
        let kits: Vec<&Kit> = self
            .status
            .components
            .iter()
            .filter(|c| c.verdict.severity() > 0)
            .filter_map(|c| c.target.as_ref())
            .collect();
        if kits.is_empty() {
            return None;
        }
        let names: Vec<String> = kits
            .iter()
            .map(|k| format!("{} {}", k.component, target_version(k)))
            .collect();
        let bytes: u64 = kits.iter().filter_map(|k| k.archive_size).sum();
        Some(format!(
            "Update now installs {} ({} to fetch).",
            names.join(" and "),
            megabytes(bytes)
        ))
    }
}

fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / 1_000_000.0;
    if mb >= 10.0 {
        format!("{mb:.0} MB")
    } else {
        format!("{mb:.1} MB")
    }
}

impl eframe::App for PromptApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}
