//! The built-in demo, which is also test support: a generated release share and install root
//! ([`share`]), and a simulated instrument fleet ([`fleet`]) served by a small Channel Access
//! server ([`ca_server`]) on loopback.

pub mod ca_server;
pub mod fleet;
pub mod share;
