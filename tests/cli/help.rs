//! `--help` of every command: each option and argument says what it is for in a line, and
//! `--component` lists its values.

use crate::common::Env;

const COMMANDS: &[&str] = &[
    "status",
    "check",
    "install",
    "launch",
    "rollback",
    "history",
    "releases",
    "instruments",
    "fleet",
    "demo-fleet",
    "verify",
    "publish",
    "keygen",
    "self-update",
];

/// The options and arguments in `help` that have no description of their own.
fn undescribed(help: &str) -> Vec<String> {
    let mut section = "";
    let mut missing = Vec::new();
    for line in help.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            section = line;
            continue;
        }
        if !matches!(section, "Options:" | "Arguments:") || line.trim().is_empty() {
            continue;
        }
        let entry = line.trim_start();
        let description = entry
            .split_once("  ")
            .map_or("", |(_, rest)| rest.trim_start());
        if description.is_empty() || description.starts_with('[') {
            missing.push(entry.to_string());
        }
    }
    missing
}

#[test]
fn every_option_and_argument_says_what_it_is_for() {
    let env = Env::new();
    for command in std::iter::once(None).chain(COMMANDS.iter().map(Some)) {
        let mut args: Vec<&str> = command.into_iter().copied().collect();
        args.push("--help");
        let run = env.run(&args);
        run.assert_code(0);
        assert_eq!(undescribed(&run.stdout), Vec::<String>::new(), "{args:?}");
    }
}

#[test]
fn component_lists_its_values() {
    let run = Env::new().run(&["install", "--help"]);
    let line = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("--component"))
        .unwrap_or_default()
        .to_string();
    assert!(
        line.contains("ibex-gui") && line.contains("genie-python") && line.contains("all"),
        "{line}"
    );
}
