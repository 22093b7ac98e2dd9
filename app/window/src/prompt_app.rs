//! The pop-up that `check --prompt` opens when the client does not match the instrument:
//! "Update now", "Remind me later" and, unless the mismatch is a major one, "Skip this version".

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
use ibex_updater_core::catalog::Catalog;
use ibex_updater_core::client::component::Component;
use ibex_updater_core::usecase::plan::InstallRequest;
use ibex_updater_core::usecase::prompt::PromptMemory;
use ibex_updater_core::usecase::status::Status;

/// What the user chose; the command maps it to its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptOutcome {
    Updated,
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
        }
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
                notices::show(ui, notice);
                if ui.button("Close").clicked() {
                    let outcome = self.outcome.take();
                    self.close(&ctx, outcome);
                }
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
        ui.add_space(10.0);
        ui.horizontal(|ui| {
            let update = egui::Button::new(RichText::new("Update now").strong())
                .fill(ui.visuals().selection.bg_fill);
            if ui.add(update).clicked() {
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
    }
}

impl eframe::App for PromptApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}
