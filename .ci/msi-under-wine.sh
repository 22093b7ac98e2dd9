#!/usr/bin/env bash
# Builds the MSI from the Windows binary with wixl, installs it under Wine with msiexec and the
# documented properties, checks what it did (the files, the machine policy in the registry, the
# logon Run key, the shortcuts), runs the installed updater, then removes it with msiexec and
# checks that nothing is left.
#
# Usage: .ci/msi-under-wine.sh PATH-TO-ibex-updater.exe    (WINEPREFIX set, as .ci/windows.sh does)
set -euo pipefail
cd "$(dirname "$0")/.."
exe=$1
: "${WINEPREFIX:?WINEPREFIX must name the Wine prefix}"
work=target/windows/msi
rm -rf "$work" && mkdir -p "$work"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

fail() {
    echo "MSI under Wine: $*" >&2
    exit 1
}
winpath() {
    winepath -w "$1" 2>/dev/null
}
# `reg query` of one value, or nothing when it is not there.
reg_value() {
    wine reg query "$1" /v "$2" 2>/dev/null | tr -d '\r' | sed -n "s/^ *$2 *REG_[A-Z_]* *//p"
}

cp "$exe" "$work/ibex-updater.exe"
cp assets/ibex-updater.ico assets/ibex.ico assets/genie_python.ico wix/main.wxs "$work/"
(cd "$work" && wixl -a x64 -D Version="$version" -D BinaryPath=ibex-updater.exe \
    -D IconPath=ibex-updater.ico -D IbexIconPath=ibex.ico -D GenieIconPath=genie_python.ico \
    -o ibex-updater.msi main.wxs)

# A release share for the installed updater to read: the demo's, without its index (signed by the
# demo's own key), which the MSI's ALLOW_UNSIGNED=1 lets the updater read.
share_home=$work/share-home
IBEX_UPDATER_DATA_DIR=$share_home target/debug/ibex-updater --demo releases >/dev/null
share=$share_home/demo/Releases
test -d "$share" || fail "the demo share was not generated at $share"
rm -f "$share/index.json" "$share/index.json.minisig"

drive_c=$WINEPREFIX/drive_c
program=$drive_c/Program\ Files/IBEX\ Updater/ibex-updater.exe
menu=$drive_c/ProgramData/Microsoft/Windows/Start\ Menu/Programs
policy='HKLM\Software\Policies\ISIS\IBEX Updater'
run_key='HKLM\Software\Microsoft\Windows\CurrentVersion\Run'
install_root='C:\Instrument\Apps'

started=$SECONDS
wine msiexec /i "$(winpath "$work/ibex-updater.msi")" /qn \
    RELEASE_SOURCE="$(winpath "$share")" INSTRUMENT=LARMOR INSTALL_ROOT="$install_root" AUTO_CHECK=1 ALLOW_UNSIGNED=1 \
    || fail "msiexec /i failed"
wineserver -w
echo "msiexec /i took $((SECONDS - started)) s"

test -f "$program" || fail "no $program"
[ "$(reg_value "$policy" ReleaseSource)" = "$(winpath "$share")" ] || fail "ReleaseSource is '$(reg_value "$policy" ReleaseSource)'"
[ "$(reg_value "$policy" Instrument)" = LARMOR ] || fail "Instrument is '$(reg_value "$policy" Instrument)'"
[ "$(reg_value "$policy" InstallRoot)" = "$install_root" ] || fail "InstallRoot is '$(reg_value "$policy" InstallRoot)'"
[ "$(reg_value "$policy" AutoCheck)" = 0x1 ] || fail "AutoCheck is '$(reg_value "$policy" AutoCheck)'"
[ "$(reg_value "$policy" AllowUnsigned)" = 0x1 ] || fail "AllowUnsigned is '$(reg_value "$policy" AllowUnsigned)'"
logon=$(reg_value "$run_key" "IBEX Updater check")
case $logon in
    *'ibex-updater.exe" check --prompt --logon') ;;
    *) fail "the logon Run key says '$logon'" ;;
esac
# A per-machine install puts them in the all-users Start menu on Windows; Wine's msiexec uses the
# installing user's.
if [ ! -f "$menu/IBEX.lnk" ]; then
    menu=$(dirname "$(find "$drive_c/users" -path '*/Start Menu/Programs/IBEX.lnk' | head -n 1)")
fi
for shortcut in "IBEX Updater.lnk" "IBEX.lnk" "genie_python.lnk"; do
    test -f "$menu/$shortcut" || fail "no Start-menu shortcut $shortcut in $menu"
done
desktop=$(find "$drive_c/users" -path '*/Desktop/IBEX.lnk' | head -n 1)
test -n "$desktop" || fail "no IBEX shortcut on the desktop"

# The installed updater runs, and reads the share and install root the MSI wrote into the policy.
[ "$(wine "$program" --version | tr -d '\r')" = "ibex-updater $version" ] || fail "--version says '$(wine "$program" --version)'"
status=$(wine "$program" status --json --server-version 26.2.0.1 2>"$work/status.err" | tr -d '\r') || true
echo "$status" >"$work/status.json"
python3 - "$work/status.json" <<'EOF' || fail "status --json: $(cat "$work/status.err")"
import json, sys
doc = json.load(open(sys.argv[1]))
names = [c["component"] for c in doc["components"]]
assert names == ["ibex-gui", "genie-python"], names
# Nothing installed yet, and a target found in the share for a 26.2.0 server.
assert all(c["verdict"] == "not-installed" and c["target"].startswith("26.2.") for c in doc["components"]), doc
EOF
echo "the installed updater runs: $(wine "$program" --version | tr -d '\r'); status --json lists $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["components"]))' "$work/status.json") components"

started=$SECONDS
wine msiexec /x "$(winpath "$work/ibex-updater.msi")" /qn || fail "msiexec /x failed"
wineserver -w
echo "msiexec /x took $((SECONDS - started)) s"
test ! -e "$program" || fail "$program is still there after msiexec /x"
for value in ReleaseSource Instrument InstallRoot AutoCheck AllowUnsigned; do
    [ -z "$(reg_value "$policy" $value)" ] || fail "the policy's $value is still there"
done
[ -z "$(reg_value "$run_key" "IBEX Updater check")" ] || fail "the logon Run key is still there"
for shortcut in "IBEX Updater.lnk" "IBEX.lnk" "genie_python.lnk"; do
    test ! -e "$menu/$shortcut" || fail "the shortcut $shortcut is still there"
done
test ! -e "$desktop" || fail "the desktop shortcut is still there"
echo "the MSI installs, configures and removes the updater under Wine"
