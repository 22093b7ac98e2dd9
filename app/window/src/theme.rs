//! Colours and the verdict badge. Colours are never the only signal: every badge says its verdict
//! in words too.

use eframe::egui::{self, Color32, RichText};

use ibex_updater_core::client::verdict::Verdict;

pub fn verdict_colour(verdict: Verdict) -> Color32 {
    match verdict {
        Verdict::UpToDate => Color32::from_rgb(0x1e, 0x7d, 0x32),
        Verdict::UpdateAvailable => Color32::from_rgb(0x15, 0x65, 0xc0),
        Verdict::UpdateRecommended => Color32::from_rgb(0xb2, 0x6a, 0x00),
        Verdict::UpdateRequired | Verdict::NotInstalled => Color32::from_rgb(0xc6, 0x28, 0x28),
        Verdict::Development | Verdict::Unknown => Color32::from_rgb(0x61, 0x61, 0x61),
    }
}

pub fn verdict_words(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::UpToDate => "Up to date",
        Verdict::UpdateAvailable => "Update available",
        Verdict::UpdateRecommended => "Update recommended",
        Verdict::UpdateRequired => "Update required",
        Verdict::NotInstalled => "Not installed",
        Verdict::Development => "Development build",
        Verdict::Unknown => "Unknown",
    }
}

/// White text on the verdict's colour.
pub fn badge(ui: &mut egui::Ui, verdict: Verdict) -> egui::Response {
    egui::Frame::new()
        .fill(verdict_colour(verdict))
        .corner_radius(4.0)
        .inner_margin(egui::Margin::symmetric(8, 3))
        .show(ui, |ui| {
            ui.label(
                RichText::new(verdict_words(verdict))
                    .color(Color32::WHITE)
                    .strong(),
            )
        })
        .inner
}

pub const ERROR: Color32 = Color32::from_rgb(0xc6, 0x28, 0x28);
/// Amber: a state that needs someone's attention, but nothing failed.
pub const WARNING: Color32 = Color32::from_rgb(0xb2, 0x6a, 0x00);
pub const SUCCESS: Color32 = Color32::from_rgb(0x1e, 0x7d, 0x32);
