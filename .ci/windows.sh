#!/usr/bin/env bash
# The Windows half of CI: builds the whole workspace, tests included, for x86_64-pc-windows-gnu
# from Debian's packages alone, runs the whole test suite under Wine, installs and removes the MSI
# under Wine (.ci/msi-under-wine.sh), and opens the window under Wine and Xvfb.
#
# - Debian's rustc-web and cargo-web, with their std sources, are unpacked into
#   target/windows-toolchain and linked as the rustup toolchain `ibex-windows`: the machine's own
#   toolchain is left as it is. No Windows std is packaged, so std is built from those sources
#   (-Zbuild-std, which a stable compiler allows with RUSTC_BOOTSTRAP=1).
# - gcc-mingw-w64 links; Wine runs the tests. Wine 8 has no bcryptprimitives.dll, whose
#   ProcessPrng Rust's std calls for random bytes: .ci/wine/bcryptprimitives.c stands in for it.
# - A Windows 7-Zip for test fixtures comes from the npm package 7zip-bin.
# - Wine can start a Linux program but can neither wait for it nor stop it: the Channel Access
#   peers (Linux Python programs) are started for the tests by tests/peers/launcher.py.
#
# Usage: .ci/windows.sh    (as root, like .ci/run, after it has made target/ca-venv; prints the
# test binaries' results)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
toolchain=$root/target/windows-toolchain
target=x86_64-pc-windows-gnu

# The std library package is named after its version, and names the LLVM it needs.
libstd=$(apt-cache depends libstd-rust-web-dev | sed -n 's/^ *Depends: \(libstd-rust-web-[0-9.]*\)$/\1/p' | head -n 1)
llvm=$(apt-cache depends "$libstd" | sed -n 's/^ *Depends: \(libllvm[0-9]*\)$/\1/p' | head -n 1)
packages=(gcc-mingw-w64-x86-64 wine wine64 "$llvm" libgit2-1.5 libssh2-1 libcurl4 libsqlite3-0)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x "$toolchain/usr/bin/rustc" ]; then
    rm -rf "$toolchain" && mkdir -p "$toolchain/debs"
    # apt's sandbox user cannot write into the project; it downloads into a folder of its own.
    debs=$(mktemp -d) && chmod 777 "$debs"
    (cd "$debs" && apt-get download -qq rustc-web cargo-web libstd-rust-web-dev "$libstd" rust-web-src)
    for deb in "$debs"/*.deb; do
        dpkg -x "$deb" "$toolchain"
    done
    rm -rf "$debs"
fi
export LD_LIBRARY_PATH=$toolchain/usr/lib/x86_64-linux-gnu
rustup toolchain link ibex-windows "$toolchain/usr" >/dev/null
echo "Windows toolchain: $(rustc +ibex-windows --version)"

export WINEPREFIX=$root/target/wine-prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ]; then
    wineboot -i >/dev/null 2>&1
    # Wine links the user's Desktop, Documents and the like to the Linux home: make them folders
    # of the prefix, so that nothing a test or the MSI writes there lands outside it.
    for link in "$WINEPREFIX"/drive_c/users/*/*; do
        if [ -L "$link" ]; then rm "$link" && mkdir "$link"; fi
    done
    x86_64-w64-mingw32-gcc -shared -O2 -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
        .ci/wine/bcryptprimitives.c .ci/wine/bcryptprimitives.def -ladvapi32
fi

sevenzip=$root/target/7zip-bin
if [ ! -f "$sevenzip/package/win/x64/7za.exe" ]; then
    mkdir -p "$sevenzip"
    (cd "$sevenzip" && npm pack 7zip-bin --silent >/dev/null && tar xzf 7zip-bin-*.tgz)
fi
export WINEPATH="Z:${sevenzip//\//\\}\\package\\win\\x64"

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
cargo=(cargo +ibex-windows)
build=(-Zbuild-std --target "$target" --target-dir target/windows --locked)
started=$SECONDS
"${cargo[@]}" test --no-run --workspace "${build[@]}"
echo "the Windows build took $((SECONDS - started)) s"

# What the tests need beside them: the launcher of Linux peers, and a display for the windows
# that the pop-up tests open.
launcher_port=$(mktemp -u)
target/ca-venv/bin/python tests/peers/launcher.py "$launcher_port" &
launcher=$!
Xvfb :96 -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill "$launcher" "$xvfb" 2>/dev/null || true; wineserver -k 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$launcher_port" ] && break; sleep 0.1; done
export IBEX_TEST_LAUNCHER DISPLAY=:96
IBEX_TEST_LAUNCHER=$(cat "$launcher_port")

started=$SECONDS
"${cargo[@]}" test --workspace --no-fail-fast "${build[@]}" 2>&1
echo "the Windows tests took $((SECONDS - started)) s"

exe=target/windows/$target/debug/ibex-updater.exe
.ci/msi-under-wine.sh "$exe"
# Wine's DirectX 12 (vkd3d) cannot compile the shaders wgpu's DirectX 12 backend needs (real
# Windows has d3dcompiler_47): under Wine the window draws with Vulkan, on Mesa's lavapipe.
WGPU_BACKEND=vulkan WINDOW_SHOT=target/window-wine.png .ci/window-check.sh wine "$exe"
