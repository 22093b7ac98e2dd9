//! The IBEX GUI's choice of instrument: an Eclipse preference file in the installed client,
//! `Client_E4/configuration/.settings/uk.ac.stfc.isis.ibex.instrument.prefs`. The GUI opens on the
//! instrument it names, so writing it (while the GUI is closed) is how the updater points the GUI
//! at an instrument.
//!
//! Eclipse writes the file with `java.util.Properties.store`, without its date comment, keys
//! sorted, in the platform's line endings:
//!
//! ```text
//! eclipse.preferences.version=1
//! preferences/initialHost=NDXLARMOR
//! preferences/initialName=LARMOR
//! preferences/initialPV=IN\:LARMOR\:
//! ```
//!
//! All three keys are written together: an empty prefix makes the GUI fail at start-up, and a
//! missing key falls back to localhost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::UpdateError;
use crate::fsx;

/// Relative to `Client_E4`.
pub const PREFERENCE_FILE: &str = "configuration/.settings/uk.ac.stfc.isis.ibex.instrument.prefs";
const VERSION_KEY: &str = "eclipse.preferences.version";
const HOST_KEY: &str = "preferences/initialHost";
const NAME_KEY: &str = "preferences/initialName";
const PV_KEY: &str = "preferences/initialPV";
/// A handful of keys; anything much larger is not this file.
const CAP: u64 = 64 << 10;

/// The instrument the GUI opens on, as CS:INSTLIST names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuiInstrument {
    pub name: String,
    pub host: String,
    pub pv_prefix: String,
}

impl GuiInstrument {
    /// Whether `query` names it: its name, host name or PV prefix, in any case.
    pub fn matches(&self, query: &str) -> bool {
        let query = query.trim();
        [&self.name, &self.host, &self.pv_prefix]
            .iter()
            .any(|field| field.eq_ignore_ascii_case(query))
    }
}

pub fn path(client_dir: &Path) -> PathBuf {
    client_dir.join(PREFERENCE_FILE)
}

/// The instrument the GUI in `client_dir` will open on, when its file names one completely.
pub fn read(client_dir: &Path) -> Result<Option<GuiInstrument>, UpdateError> {
    let file = path(client_dir);
    let Some(bytes) = fsx::read_state_capped(&file, CAP)? else {
        return Ok(None);
    };
    let entries = parse(&String::from_utf8_lossy(&bytes));
    let get = |key| entries.get(key).filter(|v| !v.trim().is_empty()).cloned();
    Ok(match (get(NAME_KEY), get(HOST_KEY), get(PV_KEY)) {
        (Some(name), Some(host), Some(pv_prefix)) => Some(GuiInstrument {
            name,
            host,
            pv_prefix,
        }),
        _ => None,
    })
}

/// Points the GUI in `client_dir` at `instrument`, keeping any other keys in the file. Returns
/// whether the file changed.
pub fn write(client_dir: &Path, instrument: &GuiInstrument) -> Result<bool, UpdateError> {
    let file = path(client_dir);
    let existing =
        fsx::read_state_capped(&file, CAP)?.map(|bytes| parse(&String::from_utf8_lossy(&bytes)));
    let mut entries = existing.clone().unwrap_or_default();
    entries
        .entry(VERSION_KEY.to_string())
        .or_insert_with(|| "1".to_string());
    entries.insert(NAME_KEY.into(), instrument.name.clone());
    entries.insert(HOST_KEY.into(), instrument.host.clone());
    entries.insert(PV_KEY.into(), instrument.pv_prefix.clone());
    // A file that already says all of it is left as it is, whatever its line endings or comments.
    if existing.as_ref() == Some(&entries) {
        return Ok(false);
    }
    let text = render(&entries, if cfg!(windows) { "\r\n" } else { "\n" });
    fsx::write_atomically(&file, text.as_bytes())?;
    Ok(true)
}

/// The file's text as `Properties.store` writes it: sorted keys, escaped, one per line.
fn render(entries: &BTreeMap<String, String>, eol: &str) -> String {
    entries
        .iter()
        .map(|(key, value)| format!("{}={}{eol}", escape(key, true), escape(value, false)))
        .collect()
}

/// `Properties.saveConvert`: backslash escapes for the separators, comment marks and control
/// characters, a space escaped throughout a key but only at the start of a value, and
/// `\uXXXX` for anything outside printable ASCII.
fn escape(text: &str, is_key: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        match c {
            ' ' if is_key || i == 0 => out.push_str("\\ "),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\x0c' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            other => {
                let mut units = [0u16; 2];
                for unit in other.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
    }
    out
}

/// `Properties.load`, for the files Eclipse writes and any a person edited: comments, blank
/// lines, continuation lines, `=`, `:` or blanks between key and value, and escapes.
fn parse(text: &str) -> BTreeMap<String, String> {
    let mut entries = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(first) = lines.next() {
        let mut logical = first.trim_start().to_string();
        if logical.is_empty() || logical.starts_with('#') || logical.starts_with('!') {
            continue;
        }
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match lines.next() {
                Some(next) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_entry(&logical);
        entries.insert(unescape(key), unescape(value));
    }
    entries
}

fn ends_with_odd_backslashes(line: &str) -> bool {
    line.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Splits at the first unescaped `=`, `:` or blank, and drops the separator and the blanks
/// around it.
fn split_entry(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if matches!(c, '=' | ':' | ' ' | '\t' | '\x0c') {
            let rest = line[i..].trim_start_matches([' ', '\t', '\x0c']);
            let rest = rest
                .strip_prefix(['=', ':'])
                .map_or(rest, |r| r.trim_start_matches([' ', '\t', '\x0c']));
            return (&line[..i], rest);
        }
    }
    (line, "")
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut units: Vec<u16> = Vec::new();
    let mut chars = text.chars();
    let flush = |units: &mut Vec<u16>, out: &mut String| {
        out.push_str(&String::from_utf16_lossy(units));
        units.clear();
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            flush(&mut units, &mut out);
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u16::from_str_radix(&hex, 16) {
                    Ok(unit) if hex.len() == 4 => units.push(unit),
                    _ => {
                        flush(&mut units, &mut out);
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => {
                flush(&mut units, &mut out);
                out.push(match other {
                    't' => '\t',
                    'n' => '\n',
                    'r' => '\r',
                    'f' => '\x0c',
                    c => c,
                });
            }
            None => flush(&mut units, &mut out),
        }
    }
    flush(&mut units, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::list::{Instrument, decode_instlist, encode_instlist};

    fn larmor() -> GuiInstrument {
        GuiInstrument {
            name: "LARMOR".into(),
            host: "NDXLARMOR".into(),
            pv_prefix: "IN:LARMOR:".into(),
        }
    }

    /// The bytes Eclipse writes for LARMOR (on Linux; Windows has CRLF).
    const ECLIPSE_LARMOR: &str = "eclipse.preferences.version=1\n\
        preferences/initialHost=NDXLARMOR\n\
        preferences/initialName=LARMOR\n\
        preferences/initialPV=IN\\:LARMOR\\:\n";

    #[test]
    fn writes_the_bytes_eclipse_writes_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write(dir.path(), &larmor()).unwrap());
        let written = std::fs::read_to_string(path(dir.path())).unwrap();
        assert_eq!(written.replace("\r\n", "\n"), ECLIPSE_LARMOR);
        assert_eq!(read(dir.path()).unwrap(), Some(larmor()));
        assert!(!write(dir.path(), &larmor()).unwrap(), "unchanged");
    }

    #[test]
    fn reads_what_eclipse_wrote_and_keeps_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path());
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            &file,
            "#Tue Nov 24 10:00:00 GMT 2026\r\neclipse.preferences.version=1\r\n\
             preferences/initialHost=NDXMERLIN\r\npreferences/initialName=MERLIN\r\n\
             preferences/initialPV=IN\\:MERLIN\\:\r\nrecent/configs=a\\:b\r\n",
        )
        .unwrap();
        assert_eq!(read(dir.path()).unwrap().unwrap().pv_prefix, "IN:MERLIN:");
        write(dir.path(), &larmor()).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("recent/configs=a\\:b"), "{text}");
        assert!(!text.contains("MERLIN"), "{text}");
    }

    #[test]
    fn names_and_prefixes_from_the_instrument_list_round_trip_crc8_prefix_included() {
        let listed = Instrument {
            name: "CRYOLAB_R80".into(),
            host: "NDLT1234".into(),
            pv_prefix: String::new(),
            scheduled: false,
            groups: Vec::new(),
            target_station: None,
        };
        let decoded = decode_instlist(&encode_instlist(&[listed])).unwrap();
        let entry = &decoded[0];
        assert_eq!(entry.pv_prefix, "TE:CRYOLA7E:");
        let instrument = GuiInstrument {
            name: entry.name.clone(),
            host: entry.host.clone(),
            pv_prefix: entry.pv_prefix.clone(),
        };
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &instrument).unwrap();
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert!(
            text.contains("preferences/initialPV=TE\\:CRYOLA7E\\:"),
            "{text}"
        );
        assert_eq!(read(dir.path()).unwrap(), Some(instrument));
    }

    #[test]
    fn escapes_like_properties_store() {
        assert_eq!(
            escape(" a b=c:d#e!f\\", false),
            "\\ a b\\=c\\:d\\#e\\!f\\\\"
        );
        assert_eq!(escape("a b", true), "a\\ b");
        assert_eq!(escape("é\u{1F600}", false), "\\u00E9\\uD83D\\uDE00");
        for text in [" a b=c:d#e!f\\", "tab\tnew\nline", "é\u{1F600}"] {
            let line = format!("k={}", escape(text, false));
            assert_eq!(parse(&line).get("k").map(String::as_str), Some(text));
        }
    }

    #[test]
    fn an_oversized_file_is_refused_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path());
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let huge = "preferences/initialName=LARMOR\n".repeat(4096);
        std::fs::write(&file, huge).unwrap();
        let err = read(dir.path()).unwrap_err();
        assert!(matches!(err, UpdateError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn an_incomplete_file_names_no_instrument() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path());
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            &file,
            "preferences/initialName=LARMOR\npreferences/initialPV=\n",
        )
        .unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
    }
}
