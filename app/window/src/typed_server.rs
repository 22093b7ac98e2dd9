//! Off the instrument network, Channel Access reaches no instrument: the user can still pick a
//! release by typing the server version the instrument's team gives them.

use eframe::egui::{self, RichText};

use super::theme;
use ibex_updater_core::client::version::Version;

/// The server version typed by hand, once it parses.
#[derive(Debug, Default)]
pub struct TypedServer {
    text: String,
    problem: Option<String>,
    pub version: Option<Version>,
}

impl TypedServer {
    /// Says why no instrument could be read (`why`, which names the addresses searched) and
    /// offers a field for the version. Returns true when a new version was taken.
    pub fn show(&mut self, ui: &mut egui::Ui, why: &str) -> bool {
        ui.label("The instrument list could not be read. Use Refresh to try again.");
        ui.label(RichText::new(why).small());
        ui.add_space(8.0);
        ui.label("Off the instrument network? Type the version its server runs (ask the instrument's team, e.g. 26.2.0.1234):");
        let mut taken = false;
        ui.horizontal(|ui| {
            let label = ui.label("Server version");
            let field = ui
                .add(egui::TextEdit::singleline(&mut self.text).desired_width(120.0))
                .labelled_by(label.id);
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Use this version").clicked() || entered {
                match self.text.trim().parse::<Version>() {
                    Ok(version) => {
                        self.problem = None;
                        taken = self.version.as_ref() != Some(&version);
                        self.version = Some(version);
                    }
                    Err(e) => self.problem = Some(e.to_string()),
                }
            }
        });
        if let Some(problem) = &self.problem {
            ui.label(RichText::new(problem).color(theme::ERROR));
        }
        taken
    }
}
