//! Feeds arbitrary bytes to the release index parser and the signature check, as a hostile
//! mirror would: a parsed index or a refusal, never a panic.
#![no_main]

use ibex_updater_core::index::ReleaseIndex;
use ibex_updater_core::index::signature;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(index) = ReleaseIndex::parse(data, "fuzz") {
        let _ = index.kit("26.2.0", ibex_updater_core::client::component::Component::IbexGui);
    }
    // The same bytes split into an index and its signature file.
    let middle = data.len() / 2;
    let signature_text = String::from_utf8_lossy(&data[middle..]);
    let _ = signature::verify(&data[..middle], &signature_text, &[], "fuzz");
    let _ = signature::parse_public_key(&String::from_utf8_lossy(data));
});
