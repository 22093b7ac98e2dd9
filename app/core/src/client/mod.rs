//! What an IBEX client is: its two components, their version numbers, the verdict that compares
//! an installed version with a server's, and the version files a kit and an install carry.

pub mod component;
pub mod verdict;
pub mod version;
pub mod version_file;
