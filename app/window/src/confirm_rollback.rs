//! A rollback puts an older client back: the window asks first, naming what goes back in place of
//! what.

use eframe::egui::{self, RichText};

use ibex_updater_core::client::component::Component;
use ibex_updater_core::usecase::survey::Overview;

/// What the user answered this frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    RollBack(Component),
    Cancel,
}

/// Asks whether to roll back `component`, saying which version replaces which.
pub fn ask(ctx: &egui::Context, component: Component, overview: &Overview) -> Option<Answer> {
    let installed = overview
        .status
        .components
        .iter()
        .find(|c| c.component == component)
        .and_then(|c| c.installed.as_ref())
        .map_or_else(|| "nothing".to_string(), ToString::to_string);
    let previous = overview
        .previous(component)
        .map_or_else(|| "nothing".to_string(), ToString::to_string);
    let mut answer = None;
    egui::Modal::new(egui::Id::unique("confirm-rollback")).show(ctx, |ui| {
        ui.set_width(460.0);
        ui.heading(format!("Roll back {component}?"));
        ui.label(format!(
            "This puts {component} {previous} back in place of {installed}. You can roll back again to return to {installed}."
        ));
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if ui
                .button(RichText::new(format!("Roll back to {previous}")).strong())
                .clicked()
            {
                answer = Some(Answer::RollBack(component));
            }
            if ui.button("Cancel").clicked() {
                answer = Some(Answer::Cancel);
            }
        });
    });
    answer
}
