//! No number on the command line makes the updater panic: every numeric option, given anything
//! from a negative number to one past what any type holds, NaN or garbage, is either used or
//! refused with exit 2.
#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::sync::OnceLock;

use proptest::prelude::*;

use crate::common::{Env, Run};

/// One share for every case: building it is the slow part.
fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(Env::with_standard_share)
}

/// What a user might type where a number goes.
fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        (0u32..400).prop_map(|e| format!("1e{e}")),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("-0".to_string()),
        Just("18446744073709551616".to_string()),
        "[ -~]{0,12}",
    ]
}

/// The run ended by itself, and not by a panic (exit 101) or a signal.
fn no_panic(run: &Run, what: &str) {
    assert_ne!(run.code, -1, "{what}: killed by a signal: {run:?}");
    assert_ne!(run.code, 101, "{what} panicked: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{what}: {}", run.stderr);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn numeric_options_never_panic(value in number_text()) {
        let env = env();
        for flag in ["--lock-wait", "--ca-timeout", "--http-timeout"] {
            let run = env.run(&[flag, &value, "status", "--server-version", "26.2.0.1234"]);
            no_panic(&run, &format!("{flag} {value:?}"));
        }
        let run = env.run(&["--lock-wait", &value, "rollback"]);
        no_panic(&run, &format!("rollback --lock-wait {value:?}"));
        let key = env.dir.path().join("no.key");
        let key = key.to_str().unwrap();
        for flag in ["--serial", "--valid-days"] {
            let run = env.run(&["publish", "--share", ".", "--key", key, flag, &value]);
            no_panic(&run, &format!("publish {flag} {value:?}"));
        }
        let run = env.run(&["install", "--server-version", &value]);
        no_panic(&run, &format!("install --server-version {value:?}"));
    }
}
