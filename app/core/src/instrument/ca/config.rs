//! Where to search for PVs: the standard EPICS environment variables, over the policy file's
//! address list.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::time::Duration;

use crate::instrument::ca::CaError;

pub const DEFAULT_PORT: u16 = 5064;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaConfig {
    /// Where UDP searches go.
    pub search: Vec<SocketAddr>,
    /// How long a whole batch of reads may take.
    pub timeout: Duration,
}

impl CaConfig {
    /// `EPICS_CA_ADDR_LIST` (else `policy_list`), on `EPICS_CA_SERVER_PORT`, plus broadcast when
    /// `EPICS_CA_AUTO_ADDR_LIST` is not `NO`. When that variable is unset, broadcast is used only
    /// if no address is listed at all (the IBEX GUI ships with it off and the addresses listed).
    pub fn from_env(policy_list: Option<&str>, timeout: Duration) -> Result<CaConfig, CaError> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let port = match var("EPICS_CA_SERVER_PORT") {
            Some(p) => p.trim().parse().map_err(|_| CaError::BadConfig {
                detail: format!("EPICS_CA_SERVER_PORT '{p}' is not a port number"),
            })?,
            None => DEFAULT_PORT,
        };
        let list = var("EPICS_CA_ADDR_LIST").or_else(|| policy_list.map(str::to_string));
        let auto = match var("EPICS_CA_AUTO_ADDR_LIST") {
            Some(v) => !v.trim().eq_ignore_ascii_case("NO"),
            None => list.is_none(),
        };
        Self::from_parts(list.as_deref().unwrap_or(""), auto, port, timeout)
    }

    pub fn from_parts(
        list: &str,
        auto: bool,
        port: u16,
        timeout: Duration,
    ) -> Result<CaConfig, CaError> {
        let mut search = Vec::new();
        for entry in list.split_whitespace() {
            let with_port = if entry.contains(':') {
                entry.to_string()
            } else {
                format!("{entry}:{port}")
            };
            let addr = with_port
                .to_socket_addrs()
                .ok()
                .and_then(|mut addrs| addrs.find(SocketAddr::is_ipv4))
                .ok_or_else(|| CaError::BadConfig {
                    detail: format!(
                        "EPICS_CA_ADDR_LIST entry '{entry}' is not an IPv4 address or host name"
                    ),
                })?;
            search.push(addr);
        }
        if auto {
            search.push(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::BROADCAST, port)));
        }
        Ok(CaConfig { search, timeout })
    }

    /// A config that searches only `addr`: for the demo fleet and tests.
    pub fn single(addr: SocketAddr, timeout: Duration) -> CaConfig {
        CaConfig {
            search: vec![addr],
            timeout,
        }
    }

    pub fn describe_search(&self) -> String {
        if self.search.is_empty() {
            return "no addresses: set EPICS_CA_ADDR_LIST".to_string();
        }
        self.search
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_entries_take_the_server_port_unless_they_name_one() {
        let c =
            CaConfig::from_parts("127.0.0.1 127.0.0.2:6000", false, 5070, DEFAULT_TIMEOUT).unwrap();
        assert_eq!(c.describe_search(), "127.0.0.1:5070, 127.0.0.2:6000");
        let c = CaConfig::from_parts("", true, 5064, DEFAULT_TIMEOUT).unwrap();
        assert_eq!(c.describe_search(), "255.255.255.255:5064");
        assert!(CaConfig::from_parts("not a host!", false, 5064, DEFAULT_TIMEOUT).is_err());
    }
}
