//! The Fleet view: every instrument's release at a glance, grouped by release line with counts,
//! and the same exports as `ibex-updater fleet --csv/--json`. The IBEX team reads it before every
//! release.

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui::{self, RichText};

use super::theme;
use ibex_updater_core::error::UpdateError;
use ibex_updater_core::usecase::fleet::Fleet;
use ibex_updater_core::usecase::fleet_export::{self, LineGroup};

#[derive(Debug, Default)]
pub struct FleetView {
    pub open: bool,
    /// `None` while reading.
    fleet: Option<Result<Arc<Fleet>, String>>,
    /// What became of the last export.
    export_note: Option<(bool, String)>,
}

/// What the user asked for in the view this frame.
#[derive(Debug)]
pub enum FleetAction {
    Refresh,
    Save { file_name: String, contents: String },
    Close,
}

impl FleetView {
    pub fn is_loading(&self) -> bool {
        self.open && self.fleet.is_none()
    }

    pub fn reading(&mut self) {
        self.open = true;
        self.fleet = None;
    }

    pub fn loaded(&mut self, fleet: Result<Arc<Fleet>, UpdateError>) {
        self.fleet = Some(fleet.map_err(|e| e.to_string()));
    }

    pub fn exported(&mut self, result: Result<Option<PathBuf>, UpdateError>, unavailable: bool) {
        self.export_note = match (result, unavailable) {
            (Ok(Some(path)), _) => Some((true, format!("Saved to {}.", path.display()))),
            (Ok(None), true) => Some((
                false,
                "No save dialog could be opened on this desktop (on Linux it needs the XDG desktop portal): use Copy as CSV, or `ibex-updater fleet --csv` on the command line.".into(),
            )),
            (Ok(None), false) => None,
            (Err(e), _) => Some((false, format!("The export was not saved: {e}"))),
        };
    }

    pub fn show(&mut self, ui: &mut egui::Ui) -> Option<FleetAction> {
        let mut action = None;
        ui.horizontal(|ui| {
            ui.heading("The fleet at a glance");
            if ui.button("Back to my client").clicked() {
                action = Some(FleetAction::Close);
            }
        });
        let fleet = match &self.fleet {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Reading every instrument's release…");
                });
                return action;
            }
            Some(Err(e)) => {
                ui.label(
                    RichText::new(format!("The instrument list could not be read: {e}"))
                        .color(theme::ERROR),
                );
                if ui.button("Try again").clicked() {
                    action = Some(FleetAction::Refresh);
                }
                return action;
            }
            Some(Ok(fleet)) => fleet.clone(),
        };
        ui.label(match (&fleet.newest, &fleet.source_error) {
            (Some(newest), _) => format!("Newest release: {newest}"),
            (None, Some(e)) => format!("Newest release: unknown ({e})"),
            (None, None) => "Newest release: none in the release source".into(),
        });
        let groups = fleet_export::by_line(&fleet);
        ui.label(RichText::new(counts(fleet.instruments.len(), &groups)).strong());
        ui.horizontal(|ui| {
            if ui.button("Refresh").clicked() {
                action = Some(FleetAction::Refresh);
            }
            if ui.button("Copy as CSV").clicked() {
                ui.ctx().copy_text(fleet_export::csv(&fleet));
                self.export_note = Some((true, "Copied the fleet as CSV.".into()));
            }
            if ui.button("Save as CSV…").clicked() {
                action = Some(FleetAction::Save {
                    file_name: "ibex-fleet.csv".into(),
                    contents: fleet_export::csv(&fleet),
                });
            }
            if ui.button("Save as JSON…").clicked() {
                action = Some(FleetAction::Save {
                    file_name: "ibex-fleet.json".into(),
                    contents: fleet_export::json(&fleet).to_string(),
                });
            }
        });
        if let Some((ok, note)) = &self.export_note {
            let colour = if *ok { theme::SUCCESS } else { theme::ERROR };
            ui.add(egui::Label::new(RichText::new(note).color(colour)).wrap());
        }
        ui.add_space(6.0);
        for group in &groups {
            let title = match group.line.as_str() {
                "development" => "Development servers".to_string(),
                "unreachable" => "Did not answer".to_string(),
                line => format!("Release line {line}"),
            };
            egui::CollapsingHeader::new(format!("{title} ({})", group.instruments.len()))
                .id_salt(&group.line)
                .default_open(true)
                .show(ui, |ui| {
                    egui::Grid::new(("fleet", &group.line))
                        .num_columns(3)
                        .spacing([24.0, 4.0])
                        .show(ui, |ui| {
                            for (status, standing) in &group.instruments {
                                ui.label(&status.instrument.name);
                                ui.label(
                                    status.server_version.as_ref().map_or_else(
                                        |_| "no answer".to_string(),
                                        ToString::to_string,
                                    ),
                                );
                                ui.label(standing.text());
                                ui.end_row();
                            }
                        });
                });
        }
        action
    }
}

/// "7 instruments: 1 on 26.8, 3 on 26.2, 1 development, 1 unreachable".
fn counts(total: usize, groups: &[LineGroup<'_>]) -> String {
    let parts: Vec<String> = groups
        .iter()
        .map(|g| match g.line.as_str() {
            "development" | "unreachable" => format!("{} {}", g.instruments.len(), g.line),
            line => format!("{} on {line}", g.instruments.len()),
        })
        .collect();
    let noun = if total == 1 {
        "instrument"
    } else {
        "instruments"
    };
    format!("{total} {noun}: {}", parts.join(", "))
}
