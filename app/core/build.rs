//! Records the target triple, which self-update matches against the builds the index lists.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=IBEX_UPDATER_TARGET={target}");
}
