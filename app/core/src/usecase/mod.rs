//! The use cases: what a user can ask the updater to do, written once for both front ends. The
//! command line parses its arguments into these calls and prints what they return; the window
//! sends the same calls from its buttons and draws what they return. Neither re-derives a rule.

pub mod apply;
pub mod fleet;
pub mod fleet_export;
pub mod launch;
pub mod logon;
pub mod plan;
pub mod prompt;
pub mod publish;
pub mod self_update;
pub mod status;
pub mod survey;
pub mod verify;
