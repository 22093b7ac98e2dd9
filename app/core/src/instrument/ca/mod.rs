//! Channel Access, the protocol the IBEX GUI uses to talk to instruments: just the read-only
//! subset the updater needs, in pure Rust so that nothing has to be installed on a desktop.

mod client;
mod config;
pub mod message;

use std::time::Duration;

pub use client::read_pvs;
pub use config::{CaConfig, DEFAULT_PORT, DEFAULT_TIMEOUT};
pub use message::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaError {
    #[error("no Channel Access server answered for {pv} within {timeout:?} (searched {searched})")]
    NotFound {
        pv: String,
        searched: String,
        timeout: Duration,
    },

    #[error("{pv}: the server at {server} did not answer in time (time left: {timeout:?})")]
    Timeout {
        pv: String,
        server: String,
        timeout: Duration,
    },

    #[error("{pv}: the server at {server} refused to create the channel")]
    ChannelRefused { pv: String, server: String },

    #[error("{pv}: the read failed with Channel Access status {status}")]
    ReadFailed { pv: String, status: u32 },

    #[error("{peer} sent something that is not Channel Access: {detail}")]
    Protocol { peer: String, detail: String },

    #[error("{peer}: {detail}")]
    Io { peer: String, detail: String },

    #[error("{detail}")]
    BadConfig { detail: String },
}

/// Reads one PV.
pub fn read_pv(config: &CaConfig, name: &str) -> Result<Value, CaError> {
    read_pvs(config, &[name.to_string()])
        .pop()
        .unwrap_or_else(|| {
            Err(CaError::BadConfig {
                detail: "no result".into(),
            })
        })
}
