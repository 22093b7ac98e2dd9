//! The window's integration tests, as one test binary: the real window and pop-up driven with
//! egui_kittest over the real core.

#[path = "../common/mod.rs"]
mod common;

mod first_run;
mod fleet;
mod installs;
mod main_window;
mod pop_up;
// The programs these tests run are Linux ones.
#[cfg(unix)]
mod running_gui;
mod support;
