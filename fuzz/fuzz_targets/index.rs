//! Feeds arbitrary bytes to the release index parser (formats 1 and 2, with every value
//! validated), the expiry check and the signature check, as a hostile mirror would: a parsed
//! index or a refusal, never a panic.
#![no_main]

use std::time::SystemTime;

use ibex_updater_core::client::component::Component;
use ibex_updater_core::index::{ReleaseIndex, format1, signature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(index) = ReleaseIndex::parse(data, "fuzz") {
        let _ = index.kit("26.2.0", Component::IbexGui);
        let _ = index.kit_at(Component::GeniePython, "26.2.0.1");
        let _ = index.check_expiry("fuzz", SystemTime::now());
        let _ = index.to_json();
    }
    let _ = format1::looks_like(data);
    let _ = signature::signer(&String::from_utf8_lossy(data), "fuzz");
    // The same bytes split into an index and its signature file.
    let middle = data.len() / 2;
    let signature_text = String::from_utf8_lossy(&data[middle..]);
    let _ = signature::verify(&data[..middle], &signature_text, &[], "fuzz");
    let _ = signature::parse_public_key(&String::from_utf8_lossy(data));
});
