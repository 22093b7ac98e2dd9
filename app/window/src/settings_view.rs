//! Settings: the release source (a share folder from the native dialog, or a URL), the install
//! root and the proxy. What the machine policy fixes is shown read-only.

use std::path::PathBuf;

use eframe::egui::{self, RichText};

use super::backend::FolderField;
use super::theme;
use ibex_updater_core::config::resolved::Settings;
use ibex_updater_core::config::user::{Origin, UserSettings};

#[derive(Debug, Default)]
pub struct SettingsForm {
    pub open: bool,
    /// Browse… could not show a folder dialog here.
    pub no_dialog: bool,
    source: String,
    install_root: String,
    proxy: String,
}

/// What the user did in the settings window this frame.
#[derive(Debug)]
pub enum SettingsAction {
    Browse(FolderField),
    Save(UserSettings),
}

impl SettingsForm {
    pub fn open_with(&mut self, settings: &Settings) {
        self.source = settings
            .source_location
            .as_ref()
            .map(|(s, _)| s.clone())
            .unwrap_or_default();
        self.install_root = settings.install_root.path().display().to_string();
        self.proxy = settings
            .policy
            .proxy
            .clone()
            .or_else(|| settings.user.proxy.clone())
            .unwrap_or_default();
        self.no_dialog = false;
        self.open = true;
    }

    pub fn set_folder(&mut self, field: FolderField, path: &std::path::Path) {
        let text = path.display().to_string();
        match field {
            FolderField::ReleaseSource => self.source = text,
            FolderField::InstallRoot => self.install_root = text,
        }
    }

    pub fn show(&mut self, ctx: &egui::Context, settings: &Settings) -> Option<SettingsAction> {
        if !self.open {
            return None;
        }
        let mut action = None;
        let mut close = false;
        let source_locked = settings.is_locked(settings.source_location.as_ref().map(|(_, o)| *o));
        let root_locked = settings.is_locked(settings.install_root_origin);
        let proxy_locked = settings.policy.locks_settings() && settings.policy.proxy.is_some();
        let read_only = settings.demo;
        egui::Modal::new(egui::Id::unique("settings")).show(ctx, |ui| {
            ui.set_width(760.0);
            ui.heading("Settings");
            if read_only {
                ui.label("The demo uses its own release share and install folder; start the updater without --demo to change them.");
            }
            ui.add_space(6.0);
            egui::Grid::new("settings-grid").num_columns(3).spacing([8.0, 8.0]).show(ui, |ui| {
                if field(ui, "Release source", &mut self.source, read_only || source_locked, true) {
                    action = Some(SettingsAction::Browse(FolderField::ReleaseSource));
                }
                ui.end_row();
                if field(ui, "Install folder", &mut self.install_root, read_only || root_locked, true) {
                    action = Some(SettingsAction::Browse(FolderField::InstallRoot));
                }
                ui.end_row();
                field(ui, "Proxy", &mut self.proxy, read_only || proxy_locked, false);
                ui.end_row();
            });
            if self.no_dialog {
                ui.label(RichText::new("No folder dialog could be opened on this desktop (on Linux it needs the XDG desktop portal): type the path in the field instead.").color(theme::ERROR));
            }
            if source_locked || root_locked || proxy_locked {
                ui.label(RichText::new("Greyed-out settings are set by your IT department's policy.").italics());
            }
            ui.label(RichText::new("The release source is a share folder such as \\\\server\\Releases, or a mirror URL.").small());
            ui.add_space(6.0);
            ui.horizontal(|ui| {
                if !read_only && ui.button("Save").clicked() {
                    action = Some(SettingsAction::Save(self.user_settings(settings)));
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
        action
    }

    /// The user's own settings: only what the policy does not fix, and only what differs from
    /// the policy's value.
    fn user_settings(&self, settings: &Settings) -> UserSettings {
        let value = |text: &str| Some(text.trim().to_string()).filter(|t| !t.is_empty());
        let unless_policy = |origin: Option<Origin>, text: &str| {
            if settings.is_locked(origin) {
                None
            } else {
                value(text)
            }
        };
        UserSettings {
            release_source: unless_policy(
                settings.source_location.as_ref().map(|(_, o)| *o),
                &self.source,
            ),
            install_root: unless_policy(settings.install_root_origin, &self.install_root)
                .map(PathBuf::from),
            instrument: settings.user.instrument.clone(),
            proxy: value(&self.proxy).filter(|_| settings.policy.proxy.is_none()),
        }
    }
}

/// A labelled text field, with a Browse button when `browse`; returns true when Browse was clicked.
fn field(ui: &mut egui::Ui, name: &str, text: &mut String, locked: bool, browse: bool) -> bool {
    let label = ui.label(name);
    ui.add_enabled(
        !locked,
        egui::TextEdit::singleline(text).desired_width(480.0),
    )
    .labelled_by(label.id);
    let clicked = browse
        && ui
            .add_enabled(
                !locked,
                egui::Button::new(format!("Browse for the {}…", name.to_lowercase())),
            )
            .clicked();
    if !browse {
        ui.label("");
    }
    clicked
}
