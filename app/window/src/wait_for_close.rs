//! A running IBEX GUI (or genie_python) stops an install before anything moves. Instead of only
//! an error, the window offers to wait: a named thread watches for the program to close, and the
//! job that was refused starts again by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use eframe::egui::{self, RichText};

use ibex_updater_core::client::component::Component;
use ibex_updater_core::usecase::plan::InstallRequest;

/// The job to run again once the program has closed.
#[derive(Debug, Clone)]
pub enum Retry {
    Install(InstallRequest),
    Rollback(Vec<Component>),
}

/// A job refused because `component` is running, and whether the window is waiting for it.
#[derive(Debug)]
pub struct Blocked {
    pub component: Component,
    pub retry: Retry,
    /// Set while waiting; setting the flag stops the watch.
    pub waiting: Option<Arc<AtomicBool>>,
}

/// What the user chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Wait,
    StopWaiting,
}

impl Blocked {
    pub fn show(&self, ui: &mut egui::Ui) -> Option<Choice> {
        let name = self.component;
        let mut choice = None;
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            if self.waiting.is_some() {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(RichText::new(format!(
                        "Waiting for {name} to close. The update goes on by itself once it has."
                    )).strong());
                });
                if ui.button("Stop waiting").clicked() {
                    choice = Some(Choice::StopWaiting);
                }
            } else {
                ui.label(format!(
                    "{name} is running, so the update could not replace it. Save your work and close it, or let the updater wait."
                ));
                if ui
                    .button(RichText::new(format!("Wait for {name} to close")).strong())
                    .clicked()
                {
                    choice = Some(Choice::Wait);
                }
            }
        });
        choice
    }

    /// Stops a watch in progress.
    pub fn stop_waiting(&mut self) {
        if let Some(flag) = self.waiting.take() {
            flag.store(true, Ordering::Relaxed);
        }
    }
}
