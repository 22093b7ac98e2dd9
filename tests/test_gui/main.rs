//! A stand-in for the IBEX GUI in the `launch` tests: records how it was started (working
//! directory, arguments, and the instrument preference as it found it) in the JSON file that
//! `IBEX_TEST_GUI_RECORD` names, then stays up for as long as `IBEX_TEST_GUI_STAY` says (seconds),
//! so that a test can see it running.

use std::path::Path;
use std::time::Duration;

const PREFERENCE: &str = "configuration/.settings/uk.ac.stfc.isis.ibex.instrument.prefs";

fn main() {
    let cwd = std::env::current_dir().unwrap_or_default();
    let preference = std::fs::read_to_string(cwd.join(PREFERENCE)).ok();
    let record = serde_json::json!({
        "cwd": cwd,
        "args": std::env::args().skip(1).collect::<Vec<_>>(),
        "preference": preference,
    });
    if let Some(path) = std::env::var_os("IBEX_TEST_GUI_RECORD") {
        let path = Path::new(&path);
        // Written aside and renamed, so that a test never reads half a record.
        let partial = path.with_extension("partial");
        if std::fs::write(&partial, record.to_string()).is_ok() {
            let _ = std::fs::rename(&partial, path);
        }
    }
    let stay = std::env::var("IBEX_TEST_GUI_STAY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    std::thread::sleep(Duration::from_secs(stay));
}
