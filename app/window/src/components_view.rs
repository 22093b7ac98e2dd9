//! IBEX GUI and genie_python side by side: installed version, what the instrument needs, the
//! verdict as a badge and a sentence, and the per-component actions.

use eframe::egui::{self, RichText};

use super::{explain, theme, unsigned_source};
use ibex_updater_core::client::component::Component;
use ibex_updater_core::client::release_lines;
use ibex_updater_core::client::verdict::Verdict;
use ibex_updater_core::client::version::ClientVersion;
use ibex_updater_core::usecase::status::{ComponentStatus, target_version};
use ibex_updater_core::usecase::survey::Overview;

/// What the user asked for in the component cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Install(Component),
    Rollback(Component),
}

pub fn show(
    ui: &mut egui::Ui,
    overview: &Overview,
    instrument: Option<&str>,
    busy: bool,
) -> Option<Action> {
    let mut action = None;
    let server = overview.status.server.as_ref();
    // Side by side when there is room, one above the other in a narrow (or zoomed) window.
    let wide = ui.available_width() > 560.0;
    let mut cards = |ui: &mut egui::Ui, component: &ComponentStatus| {
        if let Some(a) = card(ui, component, overview, server, instrument, busy) {
            action = Some(a);
        }
    };
    if wide {
        ui.columns(overview.status.components.len(), |columns| {
            for (ui, component) in columns.iter_mut().zip(&overview.status.components) {
                cards(ui, component);
            }
        });
    } else {
        for component in &overview.status.components {
            cards(ui, component);
        }
    }
    action
}

fn card(
    ui: &mut egui::Ui,
    component: &ComponentStatus,
    overview: &Overview,
    server: Option<&ibex_updater_core::client::version::Version>,
    instrument: Option<&str>,
    busy: bool,
) -> Option<Action> {
    let mut action = None;
    let name = component.component.display_name();
    egui::Frame::group(ui.style())
        .inner_margin(10.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                ui.heading(name);
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    theme::badge(ui, component.verdict);
                });
            });
            ui.add_space(4.0);
            egui::Grid::new(("versions", component.component.id()))
                .num_columns(2)
                .spacing([12.0, 4.0])
                .show(ui, |ui| {
                    ui.label("Installed");
                    ui.label(
                        component
                            .installed
                            .as_ref()
                            .map_or_else(|| "not installed".to_string(), ToString::to_string),
                    );
                    ui.end_row();
                    if let Some(library) = &component.library {
                        ui.label("Library");
                        ui.label(format!("genie_python {library}"))
                            .on_hover_text("The genie_python package inside this kit is another version than the kit itself.");
                        ui.end_row();
                    }
                    // Without a server to match, the target is simply the newest release.
                    ui.label(if server.is_some() { "Needed" } else { "Newest" });
                    let target = ui.label(component.target.as_ref().map_or_else(
                        || "no kit in the release source".to_string(),
                        |kit| {
                            let version = target_version(kit);
                            if kit.release.suffix.is_some() || kit.linked_from.is_some() {
                                format!("{version} (from {})", kit.release)
                            } else {
                                version.to_string()
                            }
                        },
                    ));
                    let linked = component.target.as_ref().and_then(|kit| {
                        let from = kit.linked_from.as_ref()?;
                        Some(format!("Release {} links this kit from {from}", kit.release))
                    });
                    if let Some(text) = linked {
                        target.on_hover_text(text);
                    }
                    ui.end_row();
                });
            ui.add_space(4.0);
            ui.label(explain::sentence(component, server, instrument));
            ui.add_space(6.0);
            let allowed = unsigned_source::installs_allowed(&overview.catalog);
            let can_install = !busy
                && allowed
                && component.target.is_some()
                && component.verdict != Verdict::UpToDate;
            ui.horizontal_wrapped(|ui| {
                // The button names the release it installs: without an instrument to match,
                // that is the newest, which nobody should get without being told.
                let label = match (&component.target, server) {
                    (Some(kit), Some(_)) => format!("Install {name} {}", kit.release),
                    (Some(kit), None) => format!("Install newest {name} ({})", kit.release),
                    (None, _) => format!("Install {name}"),
                };
                let install = ui.add_enabled(can_install, egui::Button::new(label));
                let install = if allowed {
                    install
                } else {
                    install.on_disabled_hover_text(unsigned_source::INSTALLS_OFF)
                };
                if install.clicked() {
                    action = Some(Action::Install(component.component));
                }
                let previous = overview.previous(component.component);
                let rollback = ui
                    .add_enabled(
                        !busy && previous.is_some(),
                        egui::Button::new(format!("Roll back {name}")),
                    )
                    .on_hover_text(previous.map_or_else(
                        || "There is no previous version to go back to.".to_string(),
                        |v| format!("Go back to {v}, the version the last install replaced."),
                    ))
                    .on_disabled_hover_text("There is no previous version to go back to.");
                if rollback.clicked() {
                    action = Some(Action::Rollback(component.component));
                }
                if let Some(v) = previous {
                    ui.label(RichText::new(format!("(previous: {v})")).small());
                }
            });
            // Installing this component alone would leave the two on different release lines.
            if can_install && let Some(warning) = lone_install_warning(component, overview) {
                ui.label(RichText::new(warning).small().color(theme::ERROR));
            }
        });
    action
}

/// What installing only `component`'s target would leave behind, when that splits the GUI and
/// genie_python across release lines.
fn lone_install_warning(component: &ComponentStatus, overview: &Overview) -> Option<String> {
    let target = ClientVersion::Release(target_version(component.target.as_ref()?));
    let other = overview
        .status
        .components
        .iter()
        .find(|c| c.component != component.component)?;
    let (gui, genie) = match component.component {
        Component::IbexGui => (Some(&target), other.installed.as_ref()),
        Component::GeniePython => (other.installed.as_ref(), Some(&target)),
    };
    let mixed = release_lines::mixed(gui, genie)?;
    let (other_name, other_version) = match component.component {
        Component::IbexGui => (Component::GeniePython, &mixed.genie),
        Component::GeniePython => (Component::IbexGui, &mixed.gui),
    };
    Some(format!(
        "Installing only this leaves {other_name} on {}.{}, another release line: the GUI uses the installed genie_python.",
        other_version.major(),
        other_version.minor()
    ))
}
