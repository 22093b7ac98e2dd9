//! What an IBEX client is: its two components, their version numbers, the verdict that compares
//! an installed version with a server's, the version files a kit and an install carry, and the
//! per-user setup genie_python needs, and whether the two are on one release line.

pub mod component;
pub mod genie_library;
pub mod gui_preference;
pub mod ipython_profile;
pub mod release_lines;
pub mod verdict;
pub mod version;
pub mod version_file;
