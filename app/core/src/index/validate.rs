//! What every value read from signed metadata must be before anything uses it: a signature says
//! who published a document, not that its values are safe to act on. A SHA-256 becomes a file
//! name in the downloads cache, a manifest path becomes a path under the install root, a time
//! becomes a `SystemTime`: each is checked here first, at publish and at read.

use super::FileEntry;

/// The longest path the index may name, in bytes. Client trees pass Windows' old 260-character
/// limit, so this is well above it.
pub const MAX_PATH: usize = 4096;
/// The longest single name, in bytes: what NTFS and ext4 allow.
pub const MAX_NAME: usize = 255;
/// The latest time the index may hold: the last second of the year 9999.
pub const MAX_UNIX_TIME: u64 = 253_402_300_799;
/// The most files one kit's manifest may list.
pub const MAX_FILES: u64 = 1_000_000;

/// Names Windows keeps for devices, with or without an extension (`NUL.txt` is the NUL device).
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM0", "COM1", "COM2", "COM3", "COM4",
    "COM5", "COM6", "COM7", "COM8", "COM9", "COM¹", "COM²", "COM³", "LPT0", "LPT1", "LPT2", "LPT3",
    "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
];

/// A SHA-256 as the updater writes it: 64 lower-case hex digits.
pub fn sha256(value: &str) -> Result<(), String> {
    if value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        Ok(())
    } else {
        Err(format!(
            "'{}' is not a SHA-256 (64 lower-case hex digits)",
            shown(value)
        ))
    }
}

/// A time in Unix seconds that a `SystemTime` can hold on every platform.
pub fn unix_time(value: u64, what: &str) -> Result<(), String> {
    if value <= MAX_UNIX_TIME {
        Ok(())
    } else {
        Err(format!("{what} {value} is past the year 9999"))
    }
}

/// A relative path in its one normal form: `/`-separated plain names, none of them empty, `.`
/// or `..`; no backslash, drive letter, colon (an NTFS stream), control character or character
/// Windows refuses; no name Windows keeps for a device or would silently change (a trailing dot
/// or space); within [`MAX_PATH`] and [`MAX_NAME`].
pub fn relative_path(value: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("the path '{}' {why}", shown(value)));
    if value.is_empty() {
        return refuse("is empty");
    }
    if value.len() > MAX_PATH {
        return refuse(&format!("is longer than {MAX_PATH} bytes"));
    }
    if value.starts_with('/') {
        return refuse("is absolute");
    }
    for name in value.split('/') {
        if let Err(why) = plain_name(name) {
            return refuse(&why);
        }
    }
    Ok(())
}

fn plain_name(name: &str) -> Result<(), String> {
    match name {
        "" => return Err("has an empty part (a doubled or trailing '/')".into()),
        "." | ".." => return Err(format!("has a '{name}' part")),
        _ => {}
    }
    if name.len() > MAX_NAME {
        return Err(format!("has a name longer than {MAX_NAME} bytes"));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| c.is_control() || matches!(c, '\\' | ':' | '<' | '>' | '"' | '|' | '?' | '*'))
    {
        return Err(format!(
            "has the character {c:?}, which Windows refuses in a name"
        ));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Err("has a name ending in a dot or a space, which Windows drops".into());
    }
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        return Err(format!(
            "has the name '{name}', which Windows keeps for a device"
        ));
    }
    Ok(())
}

/// A path on a source that becomes part of a URL on an HTTP mirror: besides a plain relative
/// path, nothing a URL would read as a query, a fragment or an escape.
pub fn source_path(value: &str) -> Result<(), String> {
    relative_path(value)?;
    match value.chars().find(|c| matches!(c, '?' | '#' | '%')) {
        Some(c) => Err(format!(
            "the path '{}' has {c:?}, which a mirror's URL would not read as a file name",
            shown(value)
        )),
        None => Ok(()),
    }
}

/// A kit's files: every path valid, and no two naming the same file on Windows (equal, or equal
/// but for case) or one file inside another (`a` and `a/b`). Sorted part by part, names that
/// clash sit side by side, so the check takes one sort and no more memory than the paths.
pub fn file_set<'a>(entries: impl IntoIterator<Item = &'a FileEntry>) -> Result<(), String> {
    let mut folded = Vec::new();
    for entry in entries {
        relative_path(&entry.path)?;
        sha256(&entry.sha256)?;
        folded.push((entry.path.to_lowercase(), entry.path.as_str()));
    }
    // '/' sorts before every other byte, so that "a" is followed by everything under "a/".
    let parts = |path: &str| {
        path.bytes()
            .map(|b| if b == b'/' { 0 } else { b })
            .collect::<Vec<_>>()
    };
    folded.sort_by_cached_key(|(lower, _)| parts(lower));
    for pair in folded.windows(2) {
        let [(first, first_path), (second, second_path)] = pair else {
            continue;
        };
        if first == second {
            return Err(format!(
                "'{}' and '{}' are one file on Windows (names that differ only in case are listed twice)",
                shown(first_path),
                shown(second_path)
            ));
        }
        if second
            .strip_prefix(first.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
        {
            return Err(format!(
                "'{}' is listed inside '{}', which is listed as a file",
                shown(second_path),
                shown(first_path)
            ));
        }
    }
    Ok(())
}

/// A serial that every store of it can hold: TOML, which keeps what was seen, has signed 64-bit
/// integers.
pub fn serial(value: u64) -> Result<(), String> {
    if i64::try_from(value).is_ok() {
        Ok(())
    } else {
        Err(format!("the serial {value} is larger than {}", i64::MAX))
    }
}

/// Text from outside (a parser's message about hostile bytes, a name) made safe to print:
/// control characters escaped, and cut short.
pub fn printable(value: &str) -> String {
    shown(value)
}

/// A value for a message: escapes control characters, and cut short, so that hostile text
/// neither garbles a terminal nor floods it.
fn shown(value: &str) -> String {
    let mut text: String = value
        .chars()
        .take(200)
        .flat_map(char::escape_debug)
        .collect();
    if value.chars().count() > 200 {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> FileEntry {
        FileEntry {
            path: path.to_string(),
            size: 1,
            sha256: "a".repeat(64),
        }
    }

    #[test]
    fn sha256_values_are_64_lower_case_hex_digits() {
        sha256(&"0123456789abcdef".repeat(4)).unwrap();
        for bad in [
            "",
            "../../etc/passwd",
            &"A".repeat(64),
            &"a".repeat(63),
            &"a".repeat(65),
            &format!("{}/", "a".repeat(63)),
        ] {
            assert!(sha256(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_past_the_year_9999_are_refused() {
        unix_time(MAX_UNIX_TIME, "expires").unwrap();
        assert!(unix_time(MAX_UNIX_TIME + 1, "expires").is_err());
        assert!(unix_time(u64::MAX, "expires").is_err());
    }

    #[test]
    fn only_normal_relative_paths_pass() {
        for good in [
            "plugins/p0/x.jar",
            "ibex-client.exe",
            "Lib/site-packages/genie_python-26.2.1.dist-info/METADATA",
            "a b/c d.txt",
            "CONFIG.ini",
            "console.py",
        ] {
            relative_path(good).unwrap();
        }
        for bad in [
            "",
            "/etc/passwd",
            "../outside",
            "plugins/../../outside",
            "plugins/p0/./x.jar",
            "plugins//x.jar",
            "plugins/",
            "plugins\\x.jar",
            "C:/Windows/x",
            "C:x",
            "file.txt:stream",
            "//server/share/x",
            "a/NUL",
            "a/nul.txt",
            "a/COM1.log",
            "a/lpt9",
            "a/CON .txt",
            "trailing.",
            "trailing ",
            "tab\there",
            "new\nline",
            "a/b?",
            "a/*",
        ] {
            assert!(relative_path(bad).is_err(), "{bad:?}");
        }
        assert!(relative_path(&"a/".repeat(MAX_PATH / 2 + 1)).is_err());
        assert!(relative_path(&"a".repeat(MAX_NAME + 1)).is_err());
        relative_path(&"a".repeat(MAX_NAME)).unwrap();
    }

    #[test]
    fn source_paths_have_nothing_a_url_would_read_otherwise() {
        source_path("26.2.1/Client/zips/Client.7z").unwrap();
        for bad in ["26.2.1/a#b.7z", "a?b=c", "a%2e%2e/b"] {
            assert!(source_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_file_set_refuses_twins_case_twins_and_files_that_are_folders() {
        file_set(&[entry("a/b"), entry("a/c"), entry("d")]).unwrap();
        for bad in [
            vec![entry("a/b"), entry("a/b")],
            vec![entry("a/X.jar"), entry("a/x.jar")],
            vec![entry("a"), entry("a/b")],
            vec![entry("a/b"), entry("A")],
            vec![entry("a-b"), entry("a/c"), entry("a")],
            vec![entry("a/./b")],
        ] {
            assert!(file_set(&bad).is_err(), "{bad:?}");
        }
        let mut bad_hash = entry("a");
        bad_hash.sha256 = "../x".into();
        assert!(file_set(&[bad_hash]).is_err());
    }

    #[test]
    fn a_deep_file_set_is_checked_in_time_and_memory_that_grow_with_its_size() {
        let deep = "d/".repeat(MAX_PATH / 2 - 8);
        let entries: Vec<FileEntry> = (0..2000)
            .map(|n| entry(&format!("x{n:04}/{deep}f")))
            .collect();
        file_set(&entries).unwrap();
    }

    #[test]
    fn serials_fit_the_store() {
        serial(i64::MAX as u64).unwrap();
        assert!(serial(i64::MAX as u64 + 1).is_err());
    }

    #[test]
    fn hostile_text_is_escaped_and_cut_in_messages() {
        let message = relative_path("\u{1b}[31m/..").unwrap_err();
        assert!(!message.contains('\u{1b}'), "{message}");
        let long = format!("{}\n", "x".repeat(10_000));
        assert!(relative_path(&long).unwrap_err().len() < 400);
    }
}
