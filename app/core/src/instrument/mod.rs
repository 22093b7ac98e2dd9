//! Instruments over EPICS Channel Access: the client ([`ca`]), the `CS:INSTLIST` format
//! ([`list`]), and the questions the updater asks of them ([`link`]).

pub mod ca;
pub mod link;
pub mod list;
