//! Installed versions, target kits and verdicts for every component: what `status` and `check`
//! show and the GUI will display.

use crate::component::Component;
use crate::error::UpdateError;
use crate::install::InstallRoot;
use crate::installed;
use crate::source::{Kit, Release, TargetRequest, select_target};
use crate::verdict::{Verdict, judge};
use crate::version::{ClientVersion, Version};

#[derive(Debug, Clone)]
pub struct ComponentStatus {
    pub component: Component,
    pub installed: Option<ClientVersion>,
    pub target: Option<Kit>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone)]
pub struct Status {
    pub server: Option<Version>,
    pub components: Vec<ComponentStatus>,
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

    /// The target kits of `components` that differ from what is installed: what "install the
    /// matching client" installs, as one transaction.
    pub fn outdated_kits(&self, components: &[Component]) -> Vec<Kit> {
        self.components
            .iter()
            .filter(|c| components.contains(&c.component))
            .filter_map(|c| {
                let kit = c.target.as_ref()?;
                let wanted = ClientVersion::Release(target_version(kit));
                (c.installed.as_ref() != Some(&wanted)).then(|| kit.clone())
            })
            .collect()
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
            let installed = installed::version_in(&root.component_dir(component));
            let target_version = target.as_ref().map(target_version);
            let verdict = judge(installed.as_ref(), server, target_version.as_ref());
            Ok(ComponentStatus {
                component,
                installed,
                target,
                verdict,
            })
        })
        .collect::<Result<_, UpdateError>>()?;
    Ok(Status {
        server: server.cloned(),
        components,
    })
}

/// The version a kit installs: its VERSION.txt, or failing that its folder's name.
pub fn target_version(kit: &Kit) -> Version {
    kit.version
        .clone()
        .unwrap_or_else(|| kit.release.version.clone())
}
