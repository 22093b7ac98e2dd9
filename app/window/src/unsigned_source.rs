//! A release source with no signed index, on a machine whose policy does not allow installing
//! from one (the ISIS share today): the window still compares versions, says once why it will
//! not install, and names both ways out.

use eframe::egui::{self, RichText};

use super::theme;
use ibex_updater_core::catalog::Catalog;
use ibex_updater_core::config::policy::Policy;

/// Why install buttons are off, for their hover text.
pub const INSTALLS_OFF: &str =
    "Installing is off: nothing vouches for this release source (it has no signed index).";

/// Whether the window may install from `catalog`.
pub fn installs_allowed(catalog: &Catalog) -> bool {
    catalog.verification.installs_allowed()
}

/// Shows the state when `catalog` may not be installed from; nothing otherwise.
pub fn show(ui: &mut egui::Ui, catalog: &Catalog) {
    if installs_allowed(catalog) {
        return;
    }
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.5, theme::WARNING))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(
                RichText::new("Unverified release source: you can compare versions, not install.")
                    .strong()
                    .color(theme::WARNING),
            );
            // The source's path is in the footer: a long UNC path here would only push this down.
            ui.add(
                egui::Label::new(
                    "It has no signed index.json, so nothing vouches that its kits are the ones the release team built. Installing from it needs one of:",
                )
                .wrap(),
            );
            ui.label("• the release team publishes an index there (packaging/RELEASING.md in the updater's repository), or");
            ui.label("• IT allows unsigned shares: allow_unsigned = true in the machine policy (or the MSI property ALLOW_UNSIGNED=1), which is");
            ui.label(RichText::new(Policy::path().display().to_string()).monospace());
        });
    ui.add_space(6.0);
}
