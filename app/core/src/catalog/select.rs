//! Which kit goes with a server version.

use crate::client::component::Component;
use crate::client::version::{ReleaseName, Version};
use crate::error::UpdateError;
use crate::release::{Kit, Release};

/// What the user asked to install or compare against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetRequest {
    /// The kit that matches this server version.
    Server(Version),
    /// Exactly this release folder (the only way a suffixed folder is chosen).
    Release(ReleaseName),
    /// The newest release.
    Latest,
}

/// Picks the kit of `component` for `request`.
///
/// For a server version S: the newest plain `X.Y.Z` folder on S's major.minor with a complete kit;
/// failing that, the newest plain release older than S with one (partial releases leave a
/// component out, and the previous release's kit is the one that goes with them). A development
/// server (`0.0.0.*`) has no matching kit.
///
/// For a named release: that folder's kit, or if the folder is a partial release without one, the
/// newest plain release before it that has a complete kit.
pub fn select_target<'a>(
    releases: &'a [Release],
    component: Component,
    request: &TargetRequest,
) -> Result<Option<&'a Kit>, UpdateError> {
    let plain_complete = || {
        releases
            .iter()
            .filter(|r| r.name.is_plain())
            .filter_map(|r| r.complete_kit(component))
    };
    let newest =
        |kits: &mut dyn Iterator<Item = &'a Kit>| kits.max_by(|a, b| a.release.cmp(&b.release));
    match request {
        TargetRequest::Latest => Ok(newest(&mut plain_complete())),
        TargetRequest::Server(server) if server.is_development() => Ok(None),
        TargetRequest::Server(server) => {
            let same_line =
                newest(&mut plain_complete().filter(|k| k.release.version.same_line(server)));
            Ok(same_line.or_else(|| {
                newest(
                    &mut plain_complete().filter(|k| k.release.version.cmp_release(server).is_lt()),
                )
            }))
        }
        TargetRequest::Release(name) => {
            let release = releases.iter().find(|r| &r.name == name).ok_or_else(|| {
                UpdateError::NoSuchRelease {
                    release: name.to_string(),
                }
            })?;
            match release.kit(component) {
                Some(kit) if kit.is_complete() => Ok(Some(kit)),
                Some(kit) => Err(UpdateError::KitNotInstallable {
                    component,
                    release: name.to_string(),
                    status: kit.status.clone(),
                }),
                None => {
                    Ok(newest(&mut plain_complete().filter(|k| {
                        k.release.version.cmp_release(&name.version).is_lt()
                    })))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::KitStatus;

    fn release(name: &str, kits: &[(Component, KitStatus)]) -> Release {
        let name: ReleaseName = name.parse().unwrap();
        Release {
            kits: kits
                .iter()
                .map(|(component, status)| Kit {
                    component: *component,
                    release: name.clone(),
                    version: Some(name.version.clone()),
                    archive: String::new(),
                    archive_size: None,
                    sha256: None,
                    status: status.clone(),
                    files: Vec::new(),
                    linked_from: None,
                    manifest: None,
                })
                .collect(),
            name,
        }
    }

    fn both() -> Vec<(Component, KitStatus)> {
        Component::ALL
            .iter()
            .map(|c| (*c, KitStatus::Complete))
            .collect()
    }

    /// 25.8.0, 26.2.0, 26.2.1 (GUI only), 26.2.2 (GUI incomplete), 26.2.2-hotfix, 26.8.0.
    fn share() -> Vec<Release> {
        vec![
            release("25.8.0", &both()),
            release("26.2.0", &both()),
            release("26.2.1", &[(Component::IbexGui, KitStatus::Complete)]),
            release(
                "26.2.2",
                &[
                    (Component::IbexGui, KitStatus::NotCopyComplete),
                    (Component::GeniePython, KitStatus::Complete),
                ],
            ),
            release("26.2.2-hotfix", &both()),
            release("26.8.0", &both()),
        ]
    }

    fn pick(request: &TargetRequest, component: Component) -> Option<String> {
        let releases = share();
        select_target(&releases, component, request)
            .unwrap()
            .map(|k| k.release.to_string())
    }

    fn server(s: &str) -> TargetRequest {
        TargetRequest::Server(s.parse().unwrap())
    }

    #[test]
    fn newest_complete_plain_kit_on_the_servers_line() {
        // 26.2.2's GUI kit is incomplete and the hotfix folder is never picked automatically.
        assert_eq!(
            pick(&server("26.2.0.1234"), Component::IbexGui).as_deref(),
            Some("26.2.1")
        );
        assert_eq!(
            pick(&server("26.2.0.1234"), Component::GeniePython).as_deref(),
            Some("26.2.2")
        );
        assert_eq!(
            pick(&server("25.8.0"), Component::IbexGui).as_deref(),
            Some("25.8.0")
        );
    }

    #[test]
    fn falls_back_to_the_newest_older_release_when_the_line_has_no_kit() {
        // No 26.5 release at all: the newest release older than the server goes with it.
        assert_eq!(
            pick(&server("26.5.0"), Component::IbexGui).as_deref(),
            Some("26.2.1")
        );
        // Nothing older than the server exists.
        assert_eq!(pick(&server("1.0.0"), Component::IbexGui), None);
    }

    #[test]
    fn development_server_has_no_target() {
        assert_eq!(pick(&server("0.0.0.5"), Component::IbexGui), None);
    }

    #[test]
    fn latest_is_the_newest_plain_complete_kit() {
        assert_eq!(
            pick(&TargetRequest::Latest, Component::IbexGui).as_deref(),
            Some("26.8.0")
        );
    }

    #[test]
    fn suffixed_folders_only_by_name() {
        let hotfix = TargetRequest::Release("26.2.2-hotfix".parse().unwrap());
        assert_eq!(
            pick(&hotfix, Component::IbexGui).as_deref(),
            Some("26.2.2-hotfix")
        );
    }

    #[test]
    fn named_partial_release_takes_the_previous_kit_of_the_missing_component() {
        let partial = TargetRequest::Release("26.2.1".parse().unwrap());
        assert_eq!(
            pick(&partial, Component::IbexGui).as_deref(),
            Some("26.2.1")
        );
        assert_eq!(
            pick(&partial, Component::GeniePython).as_deref(),
            Some("26.2.0")
        );
    }

    #[test]
    fn named_incomplete_kit_or_missing_release_is_an_error() {
        let releases = share();
        let incomplete = TargetRequest::Release("26.2.2".parse().unwrap());
        let err = select_target(&releases, Component::IbexGui, &incomplete).unwrap_err();
        assert!(
            matches!(err, UpdateError::KitNotInstallable { .. }),
            "{err}"
        );
        let missing = TargetRequest::Release("30.2.0".parse().unwrap());
        let err = select_target(&releases, Component::IbexGui, &missing).unwrap_err();
        assert!(matches!(err, UpdateError::NoSuchRelease { .. }), "{err}");
    }
}
