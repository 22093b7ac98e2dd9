//! IBEX Updater's core: versions and verdicts, release sources, and verified atomic installs.
//! Nothing here depends on a GUI; the command line (and later the window) are front ends over it.

pub mod ca;
pub mod clock;
pub mod component;
pub mod demo;
pub mod demo_fleet;
pub mod digest;
pub mod effective;
pub mod error;
pub mod gui;
pub mod index;
pub mod install;
pub mod installed;
pub mod instrument_link;
pub mod instruments;
pub mod paths;
pub mod policy;
pub mod progress;
pub mod prompt;
pub mod settings;
pub mod source;
pub mod status;
pub mod upgrade;
pub mod verdict;
pub mod version;
pub mod version_file;
