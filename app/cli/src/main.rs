//! `ibex-updater`: the command line, and the binary that opens the window. It parses arguments
//! into the core's use cases, prints what they return, and maps the outcome to the documented
//! exit codes; the window (`ibex-updater-window`) is the other front end over the same core.

mod args;
mod background;
mod exit;
mod launch;
mod output;
mod progress;
mod run;
mod settings;
mod signing;
mod window;

fn main() -> std::process::ExitCode {
    run::run()
}
