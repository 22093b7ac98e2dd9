//! The install history: every install and rollback on this install root, newest first.

use eframe::egui::{self, RichText};

use super::theme;
use ibex_updater_core::install::history::{self, Action, Entry};

pub fn show(ui: &mut egui::Ui, entries: &[Entry]) {
    egui::CollapsingHeader::new(RichText::new("History").strong())
        .id_salt("history")
        .default_open(false)
        .show(ui, |ui| {
            if entries.is_empty() {
                ui.label("Nothing has been installed or rolled back here yet.");
                return;
            }
            egui::Grid::new("history-grid")
                .num_columns(4)
                .spacing([12.0, 4.0])
                .striped(true)
                .show(ui, |ui| {
                    for entry in entries.iter().rev() {
                        ui.label(history::utc_text(entry.time));
                        ui.label(&entry.user);
                        ui.label(match entry.action {
                            Action::Install => "Install",
                            Action::Rollback => "Rollback",
                        });
                        match &entry.failure {
                            Some(why) => {
                                ui.label(
                                    RichText::new(format!("Failed, nothing changed: {why}"))
                                        .color(theme::ERROR),
                                );
                            }
                            None => {
                                ui.label(entry.changes_text());
                            }
                        }
                        ui.end_row();
                    }
                });
        });
}
