//! The demo's simulated instrument fleet: CS:INSTLIST and a version PV per instrument, served over
//! real Channel Access on loopback. One instrument runs a development build and one is listed but
//! never answers, so the demo shows every case.

use std::collections::HashMap;

use crate::demo::ca_server::{self, CaServer};
use crate::instrument::ca::Value;
use crate::instrument::list::{INSTLIST_PV, Instrument, encode_instlist, pv_prefix};

/// (name, host, group, target station, server version; `None` never answers)
const FLEET: &[(&str, &str, &str, &str, Option<&str>)] = &[
    ("LARMOR", "NDXLARMOR", "SANS", "TS2", Some("26.2.0.1234")),
    ("ZOOM", "NDXZOOM", "SANS", "TS2", Some("26.2.1.1302")),
    ("IRIS", "NDXIRIS", "MOLSPEC", "TS2", Some("25.8.0.1021")),
    (
        "ENGINX",
        "NDXENGINX",
        "ENGINEERING",
        "TS1",
        Some("26.8.0.1500"),
    ),
    ("MUSR", "NDXMUSR", "MUONS", "MUON", Some("26.2.0.1250")),
    (
        "CRYOLAB_R80",
        "NDECRYOLAB_R80",
        "SUPPORT",
        "MISC",
        Some("26.2.1.1302"),
    ),
    ("DEVBOX", "NDLTDEVBOX", "SUPPORT", "MISC", Some("0.0.0.42")),
    ("OFFLINE", "NDXOFFLINE", "REFLECTOMETRY", "TS1", None),
];

/// The demo fleet's instruments and the PVs that serve them; with `size`, a generated fleet of
/// that many instruments (`INST001`...), all answering, for benchmarks and tests of a
/// realistic-size list.
pub fn fleet(size: Option<usize>) -> (Vec<Instrument>, HashMap<String, Value>) {
    let mut instruments = Vec::new();
    let mut pvs = HashMap::new();
    let generated: Vec<(String, String, &str, &str, Option<String>)> = (1..=size.unwrap_or(0))
        .map(|i| {
            (
                format!("INST{i:03}"),
                format!("NDXINST{i:03}"),
                "GENERATED",
                "TS1",
                Some(format!("26.2.{}.{}", i % 3, 2000 + i)),
            )
        })
        .collect();
    let fixed = FLEET
        .iter()
        .filter(|_| size.is_none())
        .map(|(n, h, g, t, v)| (n.to_string(), h.to_string(), *g, *t, v.map(str::to_string)));
    for (name, host, group, station, version) in fixed.chain(generated) {
        let instrument = Instrument {
            pv_prefix: pv_prefix(&name, &host),
            name,
            host,
            scheduled: true,
            groups: vec![group.to_string()],
            target_station: Some(station.to_string()),
        };
        if let Some(version) = version {
            pvs.insert(instrument.version_pv(), Value::Strings(vec![version]));
        }
        instruments.push(instrument);
    }
    pvs.insert(
        INSTLIST_PV.to_string(),
        Value::Chars(encode_instlist(&instruments).into_bytes()),
    );
    (instruments, pvs)
}

/// Serves the fleet on loopback (`port` 0 picks a free port) until the process ends.
pub fn serve(port: u16, size: Option<usize>) -> std::io::Result<CaServer> {
    ca_server::serve(port, fleet(size).1)
}
