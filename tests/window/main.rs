//! The window's integration tests, as one test binary: the real window and pop-up driven with
//! egui_kittest over the real core.

#[path = "../common/mod.rs"]
mod common;

mod gui;
