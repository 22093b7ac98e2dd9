//! Messages shown above the main view: what just happened, in plain words, with the technical
//! detail behind a "Details" toggle for IT.

use eframe::egui::{self, RichText};

use super::theme;
use ibex_updater_core::client::component::Component;
use ibex_updater_core::client::ipython_profile::{Applied, ProfileStep};
use ibex_updater_core::client::release_lines::MixedLines;
use ibex_updater_core::error::{ErrorKind, UpdateError};
use ibex_updater_core::install::EpicsUtils;
use ibex_updater_core::usecase::launch::{Preference, Started};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub is_error: bool,
    pub headline: String,
    pub detail: Option<String>,
}

impl Notice {
    pub fn success(headline: impl Into<String>) -> Notice {
        Notice {
            is_error: false,
            headline: headline.into(),
            detail: None,
        }
    }

    /// `doing` says what failed, e.g. "The install"; the error decides the advice.
    pub fn error(doing: &str, error: &UpdateError) -> Notice {
        tracing::error!("{doing} failed: {error}");
        let advice = match (error, error.kind()) {
            (UpdateError::Cancelled, _) => {
                return Notice {
                    is_error: false,
                    headline: "The install was cancelled. Your client was not changed.".into(),
                    detail: None,
                };
            }
            (UpdateError::ClientRunning { component, .. }, _) => {
                format!("{component} is running. Close it, then try again.")
            }
            (UpdateError::UnsignedSource { .. }, _) => {
                "This release source has no signed index, so the updater does not install from it. Nothing was checked or fetched; the details say how IT or the release team can change that."
                    .into()
            }
            (UpdateError::Locked { .. }, _) => {
                "Another update is in progress on this computer. Wait for it to finish, then try again.".into()
            }
            (_, ErrorKind::Integrity) => {
                "The release on the release source failed its checks, so it was not installed. Tell the IBEX team."
                    .into()
            }
            (_, ErrorKind::SourceUnreachable) => {
                "The release source could not be read. Check the network, or the release source in Settings."
                    .into()
            }
            (_, ErrorKind::InstrumentUnreachable) => {
                "The instrument did not answer. Check that its server is running and that you are on the instrument network."
                    .into()
            }
            (_, ErrorKind::Usage) => "The updater is not set up for this yet.".into(),
            (_, ErrorKind::Failure) => "Something went wrong.".into(),
        };
        let unchanged = if doing.contains("install") || doing.contains("roll") {
            " Your client was not changed."
        } else {
            ""
        };
        Notice {
            is_error: true,
            headline: format!("{doing} failed. {advice}{unchanged}"),
            detail: Some(error_chain(error)),
        }
    }

    /// Files of the replaced version that were edited by hand, which the new one does not carry.
    pub fn edited(component: Component, files: &[String]) -> Notice {
        Notice {
            is_error: true,
            headline: format!(
                "{component} had files edited by hand that the new version does not carry. Roll back to get them back."
            ),
            detail: Some(files.join("\n")),
        }
    }

    /// The GUI and genie_python left on different release lines.
    pub fn mixed_lines(mixed: &MixedLines) -> Notice {
        Notice {
            is_error: true,
            headline: format!(
                "Your IBEX GUI is on release line {}.{} and genie_python on {}.{}. The GUI uses the installed genie_python and may not work with another line: install both from one release.",
                mixed.gui.major(),
                mixed.gui.minor(),
                mixed.genie.major(),
                mixed.genie.minor()
            ),
            detail: None,
        }
    }

    /// What came of "Start IBEX GUI".
    pub fn gui_started(result: Result<(Preference, Started), UpdateError>) -> Notice {
        match result {
            Ok((_, Started::Started { .. })) => Notice::success("Started the IBEX GUI."),
            Ok((_, Started::AlreadyRunning { .. })) => Notice::success(
                "The IBEX GUI is already running, so it was not started again and its instrument was left as it is. Close it, then start it from here to switch instrument.",
            ),
            Err(e) => Notice::error("Starting the IBEX GUI", &e),
        }
    }

    /// genie_python's per-user step, when it did something or could not.
    pub fn profile(step: &ProfileStep) -> Option<Notice> {
        match step {
            ProfileStep::Current | ProfileStep::Done(Applied::AlreadyCurrent) => None,
            ProfileStep::Done(Applied::Created) => Some(Notice::success(
                "Set up genie_python's IPython profile for you.",
            )),
            ProfileStep::Done(Applied::Replaced { kept }) => Some(Notice::success(format!(
                "Set up genie_python's IPython profile for you; your previous config is kept as {}.",
                kept.display()
            ))),
            ProfileStep::Pending { reason } => Some(Notice {
                is_error: true,
                headline: "genie_python's IPython profile could not be set up for you, so genie_python may start without g.".into(),
                detail: Some(reason.clone()),
            }),
        }
    }

    /// What the EPICS tools mirror did, when there is anything to say: a failure is shown beside
    /// the client's install, which it never undoes.
    pub fn epics_utils(outcome: &EpicsUtils) -> Option<Notice> {
        match outcome {
            EpicsUtils::Mirrored(m) if m.is_unchanged() => None,
            EpicsUtils::Mirrored(m) => Some(Notice::success(format!(
                "Updated EPICS_UTILS: {} new or changed files, {} removed.",
                m.changed, m.removed
            ))),
            EpicsUtils::NotUpdated { source, reason } => Some(Notice {
                is_error: true,
                headline: format!(
                    "EPICS_UTILS was not updated: {} could not be copied. The rest of the client was.",
                    source.display()
                ),
                detail: Some(reason.clone()),
            }),
        }
    }
}

/// The error and its causes, one per line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(&format!("\ncaused by: {e}"));
        cause = e.source();
    }
    text
}

/// Shows `notice` with a Dismiss button; returns true when it was dismissed.
pub fn show(ui: &mut egui::Ui, notice: &Notice) -> bool {
    frame(ui, notice, true)
}

/// Shows `notice` about the window's state, which goes away when the state does (a release
/// source that cannot be read): no Dismiss button that could not dismiss it.
pub fn show_state(ui: &mut egui::Ui, notice: &Notice) {
    frame(ui, notice, false);
}

fn frame(ui: &mut egui::Ui, notice: &Notice, dismissable: bool) -> bool {
    let colour = if notice.is_error {
        theme::ERROR
    } else {
        theme::SUCCESS
    };
    let mut dismissed = false;
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.5, colour))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            // The headline wraps, so a long message never widens the window.
            ui.add(egui::Label::new(RichText::new(&notice.headline).color(colour).strong()).wrap());
            dismissed = dismissable && ui.button("Dismiss").clicked();
            if let Some(detail) = &notice.detail {
                egui::CollapsingHeader::new("Details")
                    .id_salt(&notice.headline)
                    .show(ui, |ui| {
                        ui.label(RichText::new(detail).monospace());
                        if ui.button("Copy details").clicked() {
                            ui.ctx().copy_text(detail.clone());
                        }
                    });
            }
        });
    dismissed
}
