//! `ibex-updater`: the command line front end over the updater core.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
