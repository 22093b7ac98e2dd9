//! Feeds arbitrary bytes to the manifest reader, as a hostile mirror (or one holding the release
//! team's key) would serve them: a list of files that every install may trust, or a refusal,
//! never a panic or a read past the count the index lists. The bytes are tried both as the
//! stored file itself and gzip-compressed, so that the line parser sees what the fuzzer chose.
#![no_main]

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use ibex_updater_core::index::{ManifestRef, manifest};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    let Some((&count, text)) = data.split_first() else {
        return;
    };
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    if gz.write_all(text).is_err() {
        return;
    }
    let Ok(compressed) = gz.finish() else {
        return;
    };
    for stored in [text, compressed.as_slice()] {
        let listed = ManifestRef {
            path: "manifests/fuzz.txt.gz".into(),
            size: stored.len() as u64,
            sha256: format!("{:x}", Sha256::digest(stored)),
            files: u64::from(count),
        };
        if let Ok(files) = manifest::decode(stored, &listed) {
            assert_eq!(files.len() as u64, listed.files);
            // What it lists must encode again and read back the same.
            let (again, relisted) = manifest::encode(&files).expect("encodes");
            assert_eq!(manifest::decode(&again, &relisted).expect("decodes"), files);
        }
    }
});
