//! The command line's integration tests, as one test binary: each module runs the real
//! `ibex-updater` binary against real peers (7-Zip shares, HTTP on loopback, Channel Access
//! servers, minisign) in temporary folders.

#[path = "../common/mod.rs"]
mod common;

mod ca_hostile;
mod channel_access;
mod cli_status;
mod crash;
mod front_ends_agree;
mod help;
mod http_source;
mod index_format;
mod install;
mod launch;
mod linux_program;
mod numbers;
mod packaging;
mod patch_install;
mod policy;
mod prompt;
mod scripts_parity;
mod self_update;
mod signed_index;
mod trust_model;
mod unsigned_pipeline;
mod unsigned_share;
