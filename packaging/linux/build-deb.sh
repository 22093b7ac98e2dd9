#!/usr/bin/env bash
# Builds the .deb of ibex-updater from a binary that is already built: the binary, its desktop
# entry and icons, and the docs. It depends on what the binary links (found by dpkg-shlibdeps)
# and on what the window loads at run time: the Vulkan loader, OpenGL/EGL as wgpu's fallback,
# and X11 or Wayland with xkbcommon for the keyboard. Mesa's Vulkan drivers include lavapipe,
# which draws the window on machines without a GPU.
#
# The binary is stripped on the way in.
#
# Usage: packaging/linux/build-deb.sh BINARY [OUT_DIR]
#   a release: cargo build --profile dist --locked --bin ibex-updater
#              packaging/linux/build-deb.sh target/dist/ibex-updater
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
binary=${1:?usage: build-deb.sh BINARY [OUT_DIR]}
out=${2:-$root/target/debian}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

pkg=$stage/ibex-updater
install -D -s -m 755 "$binary" "$pkg/usr/bin/ibex-updater"
install -D -m 644 "$root/packaging/linux/ibex-updater.desktop" "$pkg/usr/share/applications/ibex-updater.desktop"
install -D -m 644 "$root/assets/ibex-updater.svg" "$pkg/usr/share/icons/hicolor/scalable/apps/ibex-updater.svg"
install -D -m 644 "$root/assets/ibex-updater.png" "$pkg/usr/share/icons/hicolor/256x256/apps/ibex-updater.png"
# "IBEX": the GUI started through the updater, which checks the client first.
install -D -m 644 "$root/packaging/linux/ibex.desktop" "$pkg/usr/share/applications/ibex.desktop"
install -D -m 644 "$root/assets/ibex.png" "$pkg/usr/share/icons/hicolor/256x256/apps/ibex.png"
install -D -m 644 "$root/README.md" "$pkg/usr/share/doc/ibex-updater/README.md"
install -D -m 644 "$root/CHANGELOG.md" "$pkg/usr/share/doc/ibex-updater/CHANGELOG.md"
cat > "$pkg/usr/share/doc/ibex-updater/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ibex-updater
Files: *
Copyright: Science and Technology Facilities Council
License: BSD-3-Clause
COPYRIGHT

# dpkg-shlibdeps wants to run inside a source package; a minimal control file is enough.
mkdir -p "$stage/debian"
printf 'Source: ibex-updater\n\nPackage: ibex-updater\nArchitecture: any\n' > "$stage/debian/control"
linked=$(cd "$stage" && dpkg-shlibdeps -O -e ibex-updater/usr/bin/ibex-updater 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
window="libvulkan1, libgl1, libegl1, libx11-6, libxcursor1, libxrandr2, libxi6, libxkbcommon0, libxkbcommon-x11-0, libwayland-client0, libwayland-cursor0"

mkdir -p "$pkg/DEBIAN"
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: ibex-updater
Version: $version
Architecture: $arch
Maintainer: ISIS Experiment Controls
Section: science
Priority: optional
Installed-Size: $(du -sk "$pkg/usr" | cut -f1)
Depends: ${linked:+$linked, }$window
Recommends: mesa-vulkan-drivers, libgl1-mesa-dri
Description: Installs and updates the IBEX client to match an instrument's server
 Shows the installed IBEX GUI and genie_python versions next to what the
 instrument's server needs, read over EPICS Channel Access, and installs the
 matching client from the release share, verified and atomically, with rollback.
CONTROL

mkdir -p "$out"
deb=$out/ibex-updater_${version}_${arch}.deb
dpkg-deb --root-owner-group --build "$pkg" "$deb" >/dev/null
echo "$deb"
