//! What an IBEX client is: its two components, their version numbers, the verdict that compares
//! an installed version with a server's, the version files a kit and an install carry, and the
//! per-user setup genie_python needs.

pub mod component;
pub mod genie_library;
pub mod gui_preference;
pub mod ipython_profile;
pub mod verdict;
pub mod version;
pub mod version_file;
