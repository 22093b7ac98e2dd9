#!/usr/bin/env bash
# Builds "IBEX Updater.app" on macOS: a release build of ibex-updater inside a standard bundle
# with its Info.plist and icon. It cannot run on the Linux build machines; run it on a Mac with
# Rust 1.95 and the Xcode command line tools (for sips and iconutil):
#
#   packaging/macos/build-app.sh            # -> target/macos/IBEX Updater.app
#
# Signing and notarisation are left to the release procedure (packaging/RELEASING.md).
set -euo pipefail
cd "$(dirname "$0")/../.."

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
app="target/macos/IBEX Updater.app"

cargo build --profile dist --locked --bin ibex-updater
rm -rf "$app"
mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
cp target/dist/ibex-updater "$app/Contents/MacOS/ibex-updater"

# The icon: every size macOS asks for, from the 256 px PNG in assets/.
iconset=$(mktemp -d)/ibex-updater.iconset
mkdir -p "$iconset"
for size in 16 32 64 128 256; do
    sips -z "$size" "$size" assets/ibex-updater.png --out "$iconset/icon_${size}x${size}.png" >/dev/null
done
iconutil -c icns "$iconset" -o "$app/Contents/Resources/ibex-updater.icns"

cat > "$app/Contents/Info.plist" <<PLIST
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
    <key>CFBundleName</key><string>IBEX Updater</string>
    <key>CFBundleDisplayName</key><string>IBEX Updater</string>
    <key>CFBundleIdentifier</key><string>uk.ac.stfc.isis.ibex-updater</string>
    <key>CFBundleVersion</key><string>${version}</string>
    <key>CFBundleShortVersionString</key><string>${version}</string>
    <key>CFBundleExecutable</key><string>ibex-updater</string>
    <key>CFBundleIconFile</key><string>ibex-updater</string>
    <key>CFBundlePackageType</key><string>APPL</string>
    <key>LSMinimumSystemVersion</key><string>11.0</string>
    <key>NSHighResolutionCapable</key><true/>
</dict>
</plist>
PLIST
echo "built $app ($version)"
