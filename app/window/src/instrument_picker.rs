//! The instrument list from CS:INSTLIST: searchable, grouped by science group, each instrument
//! with the server version it answered with.

use std::collections::BTreeMap;

use eframe::egui::{self, RichText};

use super::theme;
use ibex_updater_core::instrument::link::InstrumentStatus;

/// Draws the picker; returns the instrument the user picked this frame, if any.
pub fn show(
    ui: &mut egui::Ui,
    filter: &mut String,
    instruments: &[InstrumentStatus],
    selected: Option<&str>,
) -> Option<String> {
    ui.horizontal(|ui| {
        let label = ui.label("Search");
        ui.add(
            egui::TextEdit::singleline(filter)
                .hint_text("name, host or group")
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
    });
    ui.add_space(4.0);

    let needle = filter.trim().to_ascii_uppercase();
    let mut groups: BTreeMap<&str, Vec<&InstrumentStatus>> = BTreeMap::new();
    for status in instruments {
        let i = &status.instrument;
        if !i.found_by(&needle) {
            continue;
        }
        if i.groups.is_empty() {
            groups.entry("OTHER").or_default().push(status);
        }
        for group in &i.groups {
            groups.entry(group.as_str()).or_default().push(status);
        }
    }
    if groups.is_empty() {
        ui.label(format!(
            "No instrument matches \u{201c}{}\u{201d}.",
            filter.trim()
        ));
        return None;
    }

    let mut picked = None;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for (group, members) in groups {
                egui::CollapsingHeader::new(RichText::new(group).strong())
                    .id_salt(("group", group))
                    .default_open(true)
                    .open(if needle.is_empty() { None } else { Some(true) })
                    .show(ui, |ui| {
                        for status in members {
                            if row(ui, status, selected) {
                                picked = Some(status.instrument.name.clone());
                            }
                        }
                    });
            }
        });
    picked
}

/// One instrument; returns true when clicked.
fn row(ui: &mut egui::Ui, status: &InstrumentStatus, selected: Option<&str>) -> bool {
    let name = &status.instrument.name;
    let is_selected = selected.is_some_and(|s| s.eq_ignore_ascii_case(name));
    let (version, colour) = match &status.server_version {
        Ok(v) => (v.to_string(), ui.visuals().text_color()),
        Err(_) => ("no answer".to_string(), theme::ERROR),
    };
    ui.horizontal(|ui| {
        let response = ui.selectable_label(is_selected, RichText::new(name).strong());
        ui.label(RichText::new(version).color(colour).small());
        response.clicked()
    })
    .inner
}
