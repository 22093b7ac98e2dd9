//! The release team's commands (`keygen`, `publish`) and `verify`, over the core's signed index.

use std::time::SystemTime;

use anyhow::{Context, Result};
use ibex_updater_core::client::component::Component;
use ibex_updater_core::config::resolved::Settings;
use ibex_updater_core::index::{INDEX_FILE, SIGNATURE_FILE, signature};
use ibex_updater_core::install::verify::InstalledCheck;
use ibex_updater_core::progress::NoProgress;
use ibex_updater_core::usecase::publish::{PublishOptions, publish as write_index};
use ibex_updater_core::usecase::{self_update, survey, verify as verify_installed};
use serde_json::json;

use crate::args::{Cli, KeygenArgs, PublishArgs};
use crate::exit::code;

pub fn keygen(args: &KeygenArgs) -> Result<u8> {
    let secret = args.out_dir.join(format!("{}.key", args.name));
    let public = args.out_dir.join(format!("{}.pub", args.name));
    let line = signature::keygen(&secret, &public)?;
    println!(
        "secret key: {} (unencrypted: keep it offline)",
        secret.display()
    );
    println!("public key: {}", public.display());
    println!("trust it with this line in trusted_keys: {line}");
    Ok(code::SUCCESS)
}

pub fn publish(cli: &Cli, args: &PublishArgs) -> Result<u8> {
    let out = args.out.clone().unwrap_or_else(|| args.share.clone());
    let options = PublishOptions {
        share: args.share.clone(),
        key: args.key.clone(),
        out: out.clone(),
        serial: args.serial,
        source_id: args.source_id.clone(),
        valid_for: crate::settings::valid_days(args.valid_days)?,
    };
    let index = write_index(&options, SystemTime::now())?;
    let kits: usize = index.releases.iter().map(|r| r.kits.len()).sum();
    if cli.json {
        println!(
            "{}",
            json!({"index": out.join(INDEX_FILE), "signature": out.join(SIGNATURE_FILE),
                   "serial": index.serial, "expires": index.expires,
                   "releases": index.releases.len(), "kits": kits})
        );
    } else {
        println!(
            "wrote {} and {}: serial {}, {} releases, {kits} kits",
            out.join(INDEX_FILE).display(),
            out.join(SIGNATURE_FILE).display(),
            index.serial,
            index.releases.len()
        );
    }
    Ok(code::SUCCESS)
}

/// Updates the running binary from the newest build the signed index lists for this platform.
/// Exits 0 when up to date or updated; with `check`, 10 when a newer build is published.
pub fn self_update(cli: &Cli, settings: &Settings, check: bool) -> Result<u8> {
    let source = settings.source()?;
    let catalog = source.read_catalog()?;
    let current = self_update::CURRENT_VERSION;
    let target = self_update::current_target();
    let Some(build) = self_update::offer(&catalog)? else {
        report(
            cli,
            &json!({"updated": false, "current": current}),
            &format!("ibex-updater {current} is the newest build for {target}"),
        );
        return Ok(code::SUCCESS);
    };
    if check {
        report(
            cli,
            &json!({"available": build.version, "current": current}),
            &format!(
                "ibex-updater {} is available (this is {current})",
                build.version
            ),
        );
        return Ok(code::UPDATE_AVAILABLE);
    }
    let exe = std::env::current_exe().context("cannot tell where the running ibex-updater is")?;
    self_update::apply(source, build, &exe, &NoProgress)?;
    report(
        cli,
        &json!({"updated": true, "from": current, "to": build.version, "path": exe}),
        &format!(
            "updated {} from {current} to {}",
            exe.display(),
            build.version
        ),
    );
    Ok(code::SUCCESS)
}

fn report(cli: &Cli, doc: &serde_json::Value, text: &str) {
    if cli.json {
        println!("{doc}");
    } else {
        println!("{text}");
    }
}

/// Lists what differs from the manifest; exits 3 when anything does.
pub fn verify(cli: &Cli, settings: &Settings, components: &[Component]) -> Result<u8> {
    let catalog = survey::read_catalog(settings)?;
    let checks = verify_installed::verify(&catalog, &settings.install_root, components)?;
    let clean = verify_installed::is_clean(&checks);
    let mut docs = Vec::new();
    let mut lines = Vec::new();
    for (component, check) in &checks {
        let component = *component;
        match check {
            InstalledCheck::NotInstalled => lines.push(format!("{component}: not installed")),
            InstalledCheck::NotListed { version } => {
                lines.push(format!(
                    "{component} {version}: not in the signed index, so it cannot be verified"
                ));
            }
            InstalledCheck::Checked {
                version,
                release,
                differences,
            } => {
                if differences.is_empty() {
                    lines.push(format!(
                        "{component} {version}: matches the manifest of release {release}"
                    ));
                } else {
                    lines.push(format!(
                        "{component} {version}: differs from the manifest of release {release}"
                    ));
                    for (what, paths) in [
                        ("missing", &differences.missing),
                        ("changed", &differences.changed),
                        ("extra", &differences.extra),
                    ] {
                        for path in paths {
                            lines.push(format!("  {what}: {path}"));
                        }
                    }
                }
            }
        }
        docs.push(check_json(component, check));
    }
    if cli.json {
        println!("{}", json!({"components": docs, "clean": clean}));
    } else {
        println!("{}", lines.join("\n"));
    }
    Ok(if clean {
        code::SUCCESS
    } else {
        code::INTEGRITY
    })
}

fn check_json(component: Component, check: &InstalledCheck) -> serde_json::Value {
    match check {
        InstalledCheck::NotInstalled => json!({"component": component.id(), "installed": null}),
        InstalledCheck::NotListed { version } => {
            json!({"component": component.id(), "installed": version, "listed": false})
        }
        InstalledCheck::Checked {
            version,
            release,
            differences,
        } => json!({
            "component": component.id(), "installed": version, "listed": true, "release": release,
            "missing": differences.missing, "changed": differences.changed, "extra": differences.extra,
        }),
    }
}
