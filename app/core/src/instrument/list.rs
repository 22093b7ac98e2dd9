//! The instrument list (`CS:INSTLIST`) and the PV prefix of each instrument.
//!
//! CS:INSTLIST is a char waveform holding hex text; the hex decodes to zlib-compressed JSON, an
//! array of `{name, hostName, pvPrefix, isScheduled, groups, seci, targetStation}`.

use std::io::Read;

use serde::{Deserialize, Serialize};

pub const INSTLIST_PV: &str = "CS:INSTLIST";
/// The server version PV, below an instrument's prefix.
pub const VERSION_PV: &str = "CS:VERSION:SVN:REV";
/// An instrument list larger than this once inflated is refused (a real one is a few kB).
const MAX_JSON: u64 = 8 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instrument {
    pub name: String,
    pub host: String,
    pub pv_prefix: String,
    pub scheduled: bool,
    pub groups: Vec<String>,
    pub target_station: Option<String>,
}

impl Instrument {
    pub fn version_pv(&self) -> String {
        format!("{}{VERSION_PV}", self.pv_prefix)
    }

    /// Whether `query` names this instrument: its name, host name or PV prefix, in any case.
    pub fn matches(&self, query: &str) -> bool {
        let q = query.trim();
        let prefix = self.pv_prefix.trim_end_matches(':');
        q.eq_ignore_ascii_case(&self.name)
            || q.eq_ignore_ascii_case(&self.host)
            || q.trim_end_matches(':').eq_ignore_ascii_case(prefix)
    }

    /// Whether a search for `text` should show this instrument: part of its name, host name or
    /// one of its science groups, in any case. Empty text shows everything.
    pub fn found_by(&self, text: &str) -> bool {
        let needle = text.trim().to_ascii_uppercase();
        std::iter::once(&self.name)
            .chain(std::iter::once(&self.host))
            .chain(&self.groups)
            .any(|field| field.to_ascii_uppercase().contains(&needle))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstListError {
    #[error("CS:INSTLIST is not hex text: {0}")]
    NotHex(&'static str),
    #[error("CS:INSTLIST does not inflate: {0}")]
    NotZlib(String),
    #[error("CS:INSTLIST inflates to over {MAX_JSON} bytes")]
    TooLarge,
    #[error("CS:INSTLIST is not the expected JSON: {0}")]
    NotJson(String),
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    host_name: Option<String>,
    #[serde(default)]
    pv_prefix: Option<String>,
    #[serde(default)]
    is_scheduled: bool,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    target_station: Option<String>,
}

/// Decodes the text of CS:INSTLIST. Entries without a name, or whose host name is not
/// `[_a-zA-Z0-9]+`, are dropped, as the IBEX GUI drops them.
pub fn decode_instlist(text: &str) -> Result<Vec<Instrument>, InstListError> {
    let compressed = decode_hex(text.trim_matches(|c: char| c == '\0' || c.is_whitespace()))?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .take(MAX_JSON + 1)
        .read_to_end(&mut json)
        .map_err(|e| InstListError::NotZlib(e.to_string()))?;
    if json.len() as u64 > MAX_JSON {
        return Err(InstListError::TooLarge);
    }
    let entries: Vec<Entry> =
        serde_json::from_slice(&json).map_err(|e| InstListError::NotJson(e.to_string()))?;
    Ok(entries
        .into_iter()
        .filter_map(Entry::into_instrument)
        .collect())
}

impl Entry {
    fn into_instrument(self) -> Option<Instrument> {
        let name = self.name.filter(|n| !n.trim().is_empty())?;
        let host = self.host_name.unwrap_or_else(|| format!("NDX{name}"));
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            tracing::warn!("CS:INSTLIST: dropping {name}: host name '{host}' is not valid");
            return None;
        }
        let pv_prefix = self
            .pv_prefix
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| pv_prefix(&name, &host));
        Some(Instrument {
            name,
            host,
            pv_prefix,
            scheduled: self.is_scheduled,
            groups: self.groups,
            target_station: self.target_station,
        })
    }
}

/// The PV prefix IBEX gives an instrument: `IN:` for hosts named `NDX...`/`NDE...`, else `TE:`;
/// names over 8 characters shortened to 6 plus the CRC-8 of the whole name in hex.
pub fn pv_prefix(name: &str, host: &str) -> String {
    let host = host.to_ascii_uppercase();
    let domain = if host.starts_with("NDX") || host.starts_with("NDE") {
        "IN"
    } else {
        "TE"
    };
    format!("{domain}:{}:", short_name(name))
}

/// `name`, or for names over 8 characters the first 6 plus two upper-case hex digits of a CRC-8.
pub fn short_name(name: &str) -> String {
    if name.len() <= 8 {
        return name.to_string();
    }
    let head: String = name.chars().take(6).collect();
    format!("{head}{:02X}", crc8(name.as_bytes()))
}

/// CRC-8 with polynomial 0x07, initial value 0, no reflection.
pub fn crc8(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |mut crc, &b| {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
        crc
    })
}

/// Encodes instruments as a CS:INSTLIST value: JSON, zlib, lower-case hex. The demo fleet and
/// the tests publish lists made this way.
pub fn encode_instlist(instruments: &[Instrument]) -> String {
    use std::io::Write;
    let entries: Vec<serde_json::Value> = instruments
        .iter()
        .map(|i| {
            serde_json::json!({
                "name": i.name,
                "hostName": i.host,
                "pvPrefix": i.pv_prefix,
                "isScheduled": i.scheduled,
                "groups": i.groups,
                "seci": false,
                "targetStation": i.target_station,
            })
        })
        .collect();
    let json = serde_json::to_vec(&entries).unwrap_or_default();
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = encoder
        .write_all(&json)
        .and_then(|()| encoder.finish())
        .unwrap_or_default();
    compressed.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Result<Vec<u8>, InstListError> {
    if !text.len().is_multiple_of(2) {
        return Err(InstListError::NotHex("it has an odd number of digits"));
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |c: u8| {
                (c as char).to_digit(16).ok_or(InstListError::NotHex(
                    "it holds a character that is not a hex digit",
                ))
            };
            Ok((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_search_finds_by_name_host_or_science_group() {
        let i = Instrument {
            name: "MUSR".into(),
            host: "NDXMUSR".into(),
            pv_prefix: "IN:MUSR:".into(),
            scheduled: true,
            groups: vec!["MUONS".into()],
            target_station: None,
        };
        for text in ["", "mus", "ndxmu", "muons", " Muons "] {
            assert!(i.found_by(text), "{text:?}");
        }
        assert!(!i.found_by("sans"));
    }

    use super::*;

    #[test]
    fn prefix_rule_matches_the_test_vectors() {
        assert_eq!(pv_prefix("CRYOLAB_R80", "NDECRYOLAB_R80"), "IN:CRYOLA7E:");
        assert_eq!(pv_prefix("IRIS_SETUP", "NDXIRIS_SETUP"), "IN:IRIS_S29:");
        assert_eq!(short_name("HRPD_SETUP"), "HRPD_S3D");
        assert_eq!(short_name("ENGINX_SETUP"), "ENGINX49");
        assert_eq!(pv_prefix("LARMOR", "NDXLARMOR"), "IN:LARMOR:");
        assert_eq!(pv_prefix("DEVBOX", "NDLT1234"), "TE:DEVBOX:");
    }

    fn inst(name: &str, host: &str, prefix: &str) -> Instrument {
        Instrument {
            name: name.into(),
            host: host.into(),
            pv_prefix: prefix.into(),
            scheduled: true,
            groups: vec!["SANS".into()],
            target_station: Some("TS2".into()),
        }
    }

    #[test]
    fn encode_then_decode_round_trips_and_the_list_starts_789c() {
        let list = vec![
            inst("LARMOR", "NDXLARMOR", "IN:LARMOR:"),
            inst("ZOOM", "NDXZOOM", "IN:ZOOM:"),
        ];
        let text = encode_instlist(&list);
        assert!(text.starts_with("789c"), "{text}");
        assert_eq!(decode_instlist(&text).unwrap(), list);
    }

    #[test]
    fn drops_nameless_entries_and_bad_hosts_and_computes_missing_prefixes() {
        let json = r#"[{"name":"LARMOR","hostName":"NDXLARMOR","isScheduled":true,"groups":["SANS"],"seci":false,"targetStation":"TS2"},
                       {"hostName":"NDXNONAME"},
                       {"name":"BAD","hostName":"NDX BAD;rm"},
                       {"name":"CRYOLAB_R80","hostName":"NDECRYOLAB_R80","pvPrefix":""}]"#;
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut encoder, json.as_bytes()).unwrap();
        let hex: String = encoder
            .finish()
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let list = decode_instlist(&format!("{hex}\0\0")).unwrap();
        let names: Vec<_> = list
            .iter()
            .map(|i| (i.name.as_str(), i.pv_prefix.as_str()))
            .collect();
        assert_eq!(
            names,
            [("LARMOR", "IN:LARMOR:"), ("CRYOLAB_R80", "IN:CRYOLA7E:")]
        );
    }

    #[test]
    fn garbled_lists_are_clear_errors() {
        assert!(matches!(
            decode_instlist("78zz"),
            Err(InstListError::NotHex(_))
        ));
        assert!(matches!(
            decode_instlist("789"),
            Err(InstListError::NotHex(_))
        ));
        assert!(matches!(
            decode_instlist("0011aabb"),
            Err(InstListError::NotZlib(_))
        ));
        let not_json = encode_raw(b"not json");
        assert!(matches!(
            decode_instlist(&not_json),
            Err(InstListError::NotJson(_))
        ));
    }

    #[test]
    fn a_zlib_bomb_is_refused() {
        let bomb = encode_raw(&vec![b' '; (MAX_JSON + 10) as usize]);
        assert_eq!(decode_instlist(&bomb), Err(InstListError::TooLarge));
    }

    fn encode_raw(bytes: &[u8]) -> String {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, bytes).unwrap();
        encoder
            .finish()
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn instruments_match_by_name_host_or_prefix_in_any_case() {
        let larmor = inst("LARMOR", "NDXLARMOR", "IN:LARMOR:");
        for q in [
            "larmor",
            "NDXLARMOR",
            "ndxlarmor",
            "IN:LARMOR:",
            "in:larmor",
        ] {
            assert!(larmor.matches(q), "{q}");
        }
        assert!(!larmor.matches("ZOOM"));
    }
}
