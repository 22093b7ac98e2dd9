//! The first run: with no release source configured anywhere (policy, user settings, command
//! line), the main view is a short setup instead of a dead end. The user gives the release
//! source (folder picker, or a typed path or URL) and the install folder, checks that the source
//! reads and sees what it holds, then saves.

use std::path::PathBuf;

use eframe::egui::{self, RichText};

use super::backend::FolderField;
use super::theme;
use ibex_updater_core::config::resolved::Settings;
use ibex_updater_core::config::user::UserSettings;
use ibex_updater_core::error::UpdateError;

#[derive(Debug)]
pub struct FirstRun {
    source: String,
    install_root: String,
    /// The location last checked and what it held, or why it could not be read.
    checked: Option<(String, Result<String, String>)>,
    checking: bool,
    /// Browse… could not show a folder dialog here.
    pub no_dialog: bool,
}

/// What the user did in the setup this frame.
#[derive(Debug)]
pub enum FirstRunAction {
    Browse(FolderField),
    Check(String),
    Save(UserSettings),
}

impl FirstRun {
    /// The setup, when `settings` name no release source; `None` otherwise (and for the demo).
    pub fn needed(settings: &Settings) -> Option<FirstRun> {
        (!settings.demo && settings.source_location.is_none()).then(|| FirstRun {
            source: String::new(),
            install_root: settings.install_root.path().display().to_string(),
            checked: None,
            checking: false,
            no_dialog: false,
        })
    }

    pub fn set_folder(&mut self, field: FolderField, path: &std::path::Path) {
        let text = path.display().to_string();
        match field {
            FolderField::ReleaseSource => self.source = text,
            FolderField::InstallRoot => self.install_root = text,
        }
    }

    pub fn source_checked(&mut self, location: String, summary: Result<String, UpdateError>) {
        self.checking = false;
        self.checked = Some((location, summary.map_err(|e| e.to_string())));
    }

    /// The user's settings to save: the source and, when changed, the install folder.
    fn user_settings(&self, settings: &Settings) -> UserSettings {
        let root = self.install_root.trim();
        let default_root = settings.install_root.path().display().to_string();
        UserSettings {
            release_source: Some(self.source.trim().to_string()),
            install_root: (!root.is_empty() && root != default_root).then(|| PathBuf::from(root)),
            ..settings.user.clone()
        }
    }

    pub fn show(&mut self, ui: &mut egui::Ui, settings: &Settings) -> Option<FirstRunAction> {
        let mut action = None;
        ui.heading("Set up IBEX Updater");
        ui.add(
            egui::Label::new(
                "Tell the updater where IBEX releases are published. It reads them from there, compares them with the client installed here and with what each instrument runs, and installs the matching client. You can change this later in Settings.",
            )
            .wrap(),
        );
        ui.add_space(8.0);
        // Rows rather than a grid: a grid's cells are narrow on the first frames, and a path
        // must be readable whole.
        let fields = [
            ("Release source", FolderField::ReleaseSource),
            ("Install folder", FolderField::InstallRoot),
        ];
        for (name, field) in fields {
            ui.horizontal(|ui| {
                let label = ui.add_sized([110.0, 20.0], egui::Label::new(name));
                let text = match field {
                    FolderField::ReleaseSource => &mut self.source,
                    FolderField::InstallRoot => &mut self.install_root,
                };
                let width = (ui.available_width() - 260.0).clamp(200.0, 560.0);
                ui.add(egui::TextEdit::singleline(text).desired_width(width))
                    .labelled_by(label.id);
                if ui
                    .button(format!("Browse for the {}…", name.to_lowercase()))
                    .clicked()
                {
                    action = Some(FirstRunAction::Browse(field));
                }
            });
        }
        ui.label(
            RichText::new(
                "A share folder such as \\\\server\\Releases (the folder that holds one folder per release), or a mirror URL (https://…).",
            )
            .small(),
        );
        if self.no_dialog {
            ui.label(RichText::new("No folder dialog could be opened on this desktop (on Linux it needs the XDG desktop portal): type the path in the field instead.").color(theme::ERROR));
        }
        ui.add_space(8.0);
        let source = self.source.trim().to_string();
        let checked_ok = matches!(&self.checked, Some((at, Ok(_))) if *at == source);
        ui.horizontal(|ui| {
            let check = egui::Button::new("Check the release source");
            if ui
                .add_enabled(!source.is_empty() && !self.checking, check)
                .clicked()
            {
                self.checking = true;
                action = Some(FirstRunAction::Check(source.clone()));
            }
            let mut save = egui::Button::new(RichText::new("Save and continue").strong());
            if checked_ok {
                save = save.fill(ui.visuals().selection.bg_fill);
            }
            if ui
                .add_enabled(checked_ok, save)
                .on_disabled_hover_text("Check the release source first.")
                .clicked()
            {
                action = Some(FirstRunAction::Save(self.user_settings(settings)));
            }
        });
        if self.checking {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading the release source…");
            });
        } else if let Some((at, found)) = &self.checked {
            match found {
                Ok(summary) => {
                    ui.label(RichText::new(format!("Found {summary}.")).color(theme::SUCCESS));
                }
                Err(e) => {
                    ui.add(egui::Label::new(RichText::new(e).color(theme::ERROR)).wrap());
                }
            }
            if *at != source {
                ui.label(RichText::new("The source has changed since: check it again.").small());
            }
        }
        action
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ibex_updater_core::config::policy::Policy;

    #[test]
    fn saving_keeps_the_other_user_settings_and_leaves_out_an_unchanged_install_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::demo(
            &dir.path().join("demo"),
            std::time::Duration::from_millis(1),
        )
        .unwrap();
        settings.demo = false;
        settings.source_location = None;
        settings.policy = Policy::default();
        settings.user.instrument = Some("LARMOR".into());
        let mut setup = FirstRun::needed(&settings).unwrap();
        setup.source = "  \\\\isis\\Releases ".into();
        let user = setup.user_settings(&settings);
        assert_eq!(user.release_source.as_deref(), Some("\\\\isis\\Releases"));
        assert_eq!(user.install_root, None);
        assert_eq!(user.instrument.as_deref(), Some("LARMOR"));
        setup.install_root = "/elsewhere".into();
        assert_eq!(
            setup.user_settings(&settings).install_root,
            Some(PathBuf::from("/elsewhere"))
        );
    }
}
