//! The release team's commands (`keygen`, `publish`) and `verify`, over the core's signed index.

use std::time::SystemTime;

use anyhow::{Context, Result};
use ibex_updater_core::client::component::Component;
use ibex_updater_core::config::resolved::Settings;
use ibex_updater_core::index::{INDEX_FILE, SIGNATURE_FILE, signature};
use ibex_updater_core::install::verify::InstalledCheck;
use ibex_updater_core::progress::NoProgress;
use ibex_updater_core::usecase::publish::{self, HowListed, KitAudit, PublishOptions};
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
        rotate_from: args.rotate_from.clone(),
    };
    if args.audit {
        return audit(cli, &options);
    }
    let published = if args.refresh {
        publish::refresh(&options, SystemTime::now())?
    } else {
        publish::publish(&options, SystemTime::now())?
    };
    let index = &published.index;
    let (index_path, signature_path) = (out.join(INDEX_FILE), out.join(SIGNATURE_FILE));
    if cli.json {
        let kits: Vec<_> = published
            .kits
            .iter()
            .map(|(release, component, how)| {
                let (listed, was) = match how {
                    HowListed::Carried => ("carried", None),
                    HowListed::New => ("read-new", None),
                    HowListed::Changed { was } => ("read-changed", Some(was)),
                };
                json!({"release": release, "component": component.id(), "listed": listed, "was": was})
            })
            .collect();
        let rotated = published
            .rotated
            .as_ref()
            .map(|(from, to)| json!({"from": from, "to": to}));
        println!(
            "{}",
            json!({"index": index_path, "signature": signature_path, "format": index.format,
                   "serial": index.serial, "expires": index.expires, "source_id": index.source,
                   "releases": index.releases.len(), "kits": kits,
                   "bytes_read": published.bytes_read, "rotated": rotated})
        );
    } else {
        for (release, component, how) in &published.kits {
            match how {
                HowListed::Carried => {}
                HowListed::New => println!("read {release} {component}: new"),
                HowListed::Changed { was } => {
                    println!("read {release} {component}: changed since it was published ({was})")
                }
            }
        }
        if let Some((from, to)) = &published.rotated {
            println!("rotated the signing key from {from} to {to}");
        }
        let carried = published
            .kits
            .iter()
            .filter(|(_, _, how)| *how == HowListed::Carried)
            .count();
        println!(
            "wrote {} and {}: serial {}, {} releases, {} kits ({carried} carried over unread), {} MB of archives read",
            index_path.display(),
            signature_path.display(),
            index.serial,
            index.releases.len(),
            published.kits.len(),
            published.bytes_read / 1_000_000
        );
    }
    Ok(code::SUCCESS)
}

/// `publish --audit`: exits 3 when any published kit no longer matches.
fn audit(cli: &Cli, options: &PublishOptions) -> Result<u8> {
    let audited = publish::audit(options)?;
    let clean = audited.iter().all(|a| a.audit == KitAudit::Matches);
    if cli.json {
        let kits: Vec<_> = audited
            .iter()
            .map(|a| {
                let (status, detail) = match &a.audit {
                    KitAudit::Matches => ("matches", None),
                    KitAudit::Differs { detail } => ("differs", Some(detail.as_str())),
                    KitAudit::Missing => ("missing", None),
                };
                json!({"release": a.release, "component": a.component.id(), "status": status, "detail": detail})
            })
            .collect();
        println!("{}", json!({"clean": clean, "kits": kits}));
    } else {
        for a in &audited {
            match &a.audit {
                KitAudit::Matches => {
                    println!("{} {}: matches what was published", a.release, a.component)
                }
                KitAudit::Differs { detail } => {
                    println!("{} {}: DIFFERS: {detail}", a.release, a.component)
                }
                KitAudit::Missing => {
                    println!("{} {}: MISSING from the share", a.release, a.component)
                }
            }
        }
    }
    Ok(if clean {
        code::SUCCESS
    } else {
        code::INTEGRITY
    })
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
    let checks = verify_installed::verify(
        settings.source()?,
        &catalog,
        &settings.install_root,
        components,
    )?;
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
