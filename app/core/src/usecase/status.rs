//! Installed versions, target kits and verdicts for every component: what `status` and `check`
//! show and the GUI will display.

use crate::catalog::{TargetRequest, select_target};
use crate::client::component::Component;
use crate::client::verdict::{Verdict, judge};
use crate::client::version::{ClientVersion, Version};
use crate::client::version_file;
use crate::client::{genie_library, ipython_profile};
use crate::error::UpdateError;
use crate::install::InstallRoot;
use crate::release::{Kit, Release};

#[derive(Debug, Clone)]
pub struct ComponentStatus {
    pub component: Component,
    pub installed: Option<ClientVersion>,
    pub target: Option<Kit>,
    pub verdict: Verdict,
    /// genie_python's library version, when it is not the kit's release.
    pub library: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Status {
    pub server: Option<Version>,
    pub components: Vec<ComponentStatus>,
    /// genie_python's per-user step has not been done for the current user yet.
    pub profile_pending: bool,
}

impl Status {
    /// The most urgent verdict, which `check` turns into its exit code.
    pub fn worst(&self) -> Verdict {
        self.components
            .iter()
            .map(|c| c.verdict)
            .max_by_key(|v| v.severity())
            .unwrap_or(Verdict::UpToDate)
    }
}

/// Without a server version the target is the newest release, and the verdict `unknown`.
pub fn evaluate(
    root: &InstallRoot,
    releases: &[Release],
    server: Option<&Version>,
) -> Result<Status, UpdateError> {
    let request = server.map_or(TargetRequest::Latest, |s| TargetRequest::Server(s.clone()));
    let components = Component::ALL
        .into_iter()
        .map(|component| {
            let target = select_target(releases, component, &request)?.cloned();
            let dir = root.component_dir(component);
            let installed = version_file::installed(&dir);
            let target_version = target.as_ref().map(target_version);
            let verdict = judge(installed.as_ref(), server, target_version.as_ref());
            let library = (component == Component::GeniePython)
                .then(|| genie_library::differing(&dir, installed.as_ref()))
                .flatten();
            Ok(ComponentStatus {
                component,
                installed,
                target,
                verdict,
                library,
            })
        })
        .collect::<Result<_, UpdateError>>()?;
    let python = root.component_dir(Component::GeniePython);
    Ok(Status {
        server: server.cloned(),
        components,
        profile_pending: ipython_profile::current_home()
            .is_some_and(|home| ipython_profile::is_pending(&python, &home)),
    })
}

/// The version a kit installs: its VERSION.txt, or failing that its folder's name.
pub fn target_version(kit: &Kit) -> Version {
    kit.version
        .clone()
        .unwrap_or_else(|| kit.release.version.clone())
}
