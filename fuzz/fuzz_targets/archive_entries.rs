//! Feeds arbitrary bytes to the 7-Zip reader and every entry it lists to the updater's entry
//! check, as a hostile kit would: whatever the check lets through is a plain relative path that
//! stays inside the folder, and nothing panics.
#![no_main]

use std::io::Cursor;
use std::path::Component as PathPart;

use ibex_updater_core::archive::MEMORY_LIMIT_KB;
use ibex_updater_core::install::extract::{check_entry, safe_relative_path};
use libfuzzer_sys::fuzz_target;
use sevenz_rust2::{ArchiveReader, Password};

fn assert_inside(path: &std::path::Path) {
    assert!(
        path.components().all(|c| matches!(c, PathPart::Normal(_))),
        "{path:?} escapes"
    );
}

fuzz_target!(|data: &[u8]| {
    if let Ok(path) = safe_relative_path(&String::from_utf8_lossy(data)) {
        assert_inside(&path);
    }
    let reader =
        ArchiveReader::new_with_memory_limit(Cursor::new(data), Password::empty(), MEMORY_LIMIT_KB);
    if let Ok(reader) = reader {
        for entry in &reader.archive().files {
            if let Ok(path) = check_entry(entry) {
                assert_inside(&path);
            }
        }
    }
});
