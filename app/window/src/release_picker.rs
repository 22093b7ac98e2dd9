//! "Install a specific release…": every release in the source, with what it holds, for installing
//! one by name (a hotfix, or going back to an older release).

use eframe::egui;

use ibex_updater_core::client::version::ReleaseName;
use ibex_updater_core::release::Release;

#[derive(Debug, Default)]
pub struct ReleasePicker {
    pub open: bool,
    chosen: Option<ReleaseName>,
}

impl ReleasePicker {
    /// Draws the dialog when open; returns the release to install once the user confirms.
    pub fn show(&mut self, ctx: &egui::Context, releases: &[Release]) -> Option<ReleaseName> {
        if !self.open {
            return None;
        }
        let mut confirmed = None;
        let mut close = false;
        egui::Modal::new(egui::Id::unique("release-picker")).show(ctx, |ui| {
            ui.set_width(420.0);
            ui.heading("Install a specific release");
            ui.label("Both components are installed from the release you choose, where it has a kit for them.");
            ui.add_space(6.0);
            egui::ScrollArea::vertical().max_height(260.0).show(ui, |ui| {
                for release in releases.iter().rev() {
                    let complete: Vec<&str> = release
                        .kits
                        .iter()
                        .filter(|k| k.is_complete())
                        .map(|k| k.component.display_name())
                        .collect();
                    let text = if complete.is_empty() {
                        format!("{} (no complete kit)", release.name)
                    } else {
                        format!("{} ({})", release.name, complete.join(", "))
                    };
                    ui.add_enabled_ui(!complete.is_empty(), |ui| {
                        ui.radio_value(&mut self.chosen, Some(release.name.clone()), text);
                    });
                }
            });
            ui.add_space(6.0);
            ui.horizontal(|ui| {
                let label = self
                    .chosen
                    .as_ref()
                    .map_or_else(|| "Install".to_string(), |r| format!("Install release {r}"));
                if ui.add_enabled(self.chosen.is_some(), egui::Button::new(label)).clicked() {
                    confirmed = self.chosen.clone();
                    close = true;
                }
                if ui.button("Close").clicked() {
                    close = true;
                }
            });
        });
        if close {
            self.open = false;
        }
        confirmed
    }
}
