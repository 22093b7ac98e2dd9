//! Feeds arbitrary bytes to the Channel Access decoder, as a hostile or broken peer would:
//! it must return errors, never panic or allocate without bound.
#![no_main]

use ibex_updater_core::instrument::ca::message::{Message, Value};
use ibex_updater_core::instrument::list::decode_instlist;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((message, used))) = Message::decode(data) {
        assert!(used <= data.len());
        if let Ok(value) = Value::decode(message.data_type, message.data_count, &message.payload) {
            let _ = decode_instlist(&value.as_text());
        }
    }
    let _ = Message::decode_datagram(data);
    let _ = decode_instlist(&String::from_utf8_lossy(data));
});
