//! The settings a run works with: the machine policy, the user's own settings, default paths, and
//! the settings resolved from all of them with the command line.

pub mod file;
pub mod paths;
pub mod policy;
pub mod resolved;
pub mod user;
