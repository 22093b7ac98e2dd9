//! IBEX Updater's core: everything the updater knows and does, with no GUI dependency. The
//! command line (`ibex-updater`) and the window (`ibex-updater-window`) are thin front ends over
//! it: they parse or draw, and call [`usecase`] for everything else.
//!
//! From the bottom up: [`client`] (what an IBEX client is: components, versions, verdicts),
//! [`release`] (what a source publishes), [`error`], [`config`] (policy, user settings, paths),
//! [`index`] (the signed release index), [`source`] (shares and mirrors), [`catalog`] (a source
//! read once), [`install`] (atomic installs with rollback), [`instrument`] (Channel Access and
//! the instrument list), [`demo`] (the demo share and fleet), and [`usecase`] on top.

pub mod account;
pub mod archive;
pub mod catalog;
pub mod client;
pub mod clock;
pub mod config;
pub mod demo;
pub mod digest;
pub mod error;
pub mod fsx;
pub mod index;
pub mod install;
pub mod instrument;
pub mod progress;
pub mod release;
pub mod retry;
pub mod source;
pub mod usecase;
pub mod worker;
