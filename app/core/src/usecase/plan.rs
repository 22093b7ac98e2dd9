//! What an install will do, decided once for both front ends: which release is wanted (a named
//! release wins over the instrument's server, which wins over "the newest"), the kit of each
//! component for it, and which of those are already installed and so skipped unless forced.

use crate::catalog::{Catalog, TargetRequest};
use crate::client::component::Component;
use crate::client::version::{ClientVersion, ReleaseName, Version};
use crate::client::version_file;
use crate::error::UpdateError;
use crate::index::ListedManifest;
use crate::install::InstallRoot;
use crate::release::Kit;
use crate::usecase::status::target_version;
use crate::usecase::survey::Server;

/// What the user asked to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallRequest {
    pub target: TargetRequest,
    pub components: Vec<Component>,
    /// Reinstall a component even when its target build is already installed.
    pub force: bool,
}

impl InstallRequest {
    /// "Install matching client": the release that matches `server`, or without one the newest.
    pub fn matching(server: Option<&Version>, components: Vec<Component>) -> InstallRequest {
        InstallRequest {
            target: server.map_or(TargetRequest::Latest, |v| TargetRequest::Server(v.clone())),
            components,
            force: false,
        }
    }

    /// "Install a specific release": exactly that release folder, both components.
    pub fn release(release: ReleaseName) -> InstallRequest {
        InstallRequest {
            target: TargetRequest::Release(release),
            components: Component::ALL.to_vec(),
            force: false,
        }
    }
}

/// The kits to install, as one transaction, and the components left alone.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub kits: Vec<Kit>,
    /// Components whose target build is already installed.
    pub already_installed: Vec<(Component, ClientVersion)>,
    /// The manifest of the version each component to install replaces, when the signed index
    /// lists it: what tells local edits from the kit's own files.
    pub replaced_files: Vec<(Component, ListedManifest)>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.kits.is_empty()
    }

    /// The kits in the form [`crate::install::install`] takes.
    pub fn kit_refs(&self) -> Vec<&Kit> {
        self.kits.iter().collect()
    }
}

/// The target to install for the command line when no release is named: the release that
/// matches the server (asked live by [`crate::usecase::survey::ask_server`]), else, when no
/// instrument or server version says which, the newest release.
pub fn target_for_server(server: Server) -> Result<TargetRequest, UpdateError> {
    Ok(match server.version? {
        Some(version) => TargetRequest::Server(version),
        None => TargetRequest::Latest,
    })
}

/// Decides the plan for `request` against what is installed under `root`.
pub fn plan(
    catalog: &Catalog,
    root: &InstallRoot,
    request: &InstallRequest,
) -> Result<Plan, UpdateError> {
    let mut plan = Plan::default();
    for &component in &request.components {
        let kit = catalog
            .target(component, &request.target)?
            .ok_or_else(|| no_kit(component, &request.target))?;
        let wanted = ClientVersion::Release(target_version(kit));
        let installed = version_file::installed(&root.component_dir(component));
        if !request.force && installed.as_ref() == Some(&wanted) {
            tracing::info!("{component} {wanted} is already installed");
            plan.already_installed.push((component, wanted));
        } else {
            plan.kits.push(kit.clone());
            let listed = installed.and_then(|v| listed_files(catalog, component, &v));
            if let Some(files) = listed {
                plan.replaced_files.push((component, files));
            }
        }
    }
    // Only a plan that installs something needs a source that may be installed from.
    if !plan.kits.is_empty() {
        catalog.require_installable()?;
    }
    Ok(plan)
}

/// The manifest the signed index lists for `version` of `component`.
fn listed_files(
    catalog: &Catalog,
    component: Component,
    version: &ClientVersion,
) -> Option<ListedManifest> {
    let index = catalog.index.as_ref()?;
    let (_, kit) = index.kit_at(component, &version.to_string())?;
    Some(kit.manifest.clone())
}

fn no_kit(component: Component, request: &TargetRequest) -> UpdateError {
    let wanted = match request {
        TargetRequest::Server(v) if v.is_development() => {
            return UpdateError::DevelopmentServer {
                version: v.to_string(),
            };
        }
        TargetRequest::Server(v) => format!("server version {v}"),
        TargetRequest::Release(r) => format!("release {r}"),
        TargetRequest::Latest => "the newest release".to_string(),
    };
    UpdateError::NoMatchingKit { component, wanted }
}
