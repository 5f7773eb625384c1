#!/usr/bin/env bash
# Install what building and testing Murmur needs, and nothing that is already there.
#
#   scripts/install-deps.sh headless   murmurd only (a C toolchain, and CMake: the Opus encoder's
#                                        bundled libopus builds with it)
#   scripts/install-deps.sh desktop    + the GTK/WebKit libraries Tauri links against
#   scripts/install-deps.sh bench      headless + nginx (proxy-bench measures Murmur's proxy beside it) + valgrind (scripts/proxy-instructions.sh)
#   scripts/install-deps.sh test       + everything the test suite uses (python3 runs the fake engine,
#                                        nginx the scale-out tests,
#                                        Chromium the browser tests; Xvfb, openbox, trayer, xdotool,
#                                        xclip, ImageMagick, D-Bus and WebKitWebDriver the desktop
#                                        app's tests; PulseAudio, xterm and zenity the desk's:
#                                        a microphone, speakers and windows to type into)
#
# Debian/Ubuntu: missing packages are installed with apt-get (via sudo when not root; when
# that is impossible, the exact command is printed). macOS: Xcode's command line tools and
# Rust, plus CMake, which comes from PyPI when it is missing (Xcode does not ship it).
set -euo pipefail

mode=${1:-test}

need_cargo() {
    if ! command -v cargo >/dev/null 2>&1; then
        echo "Rust is missing: install it with rustup (https://rustup.rs), then run this again." >&2
        exit 1
    fi
}

case "$(uname -s)" in
Darwin)
    if ! xcode-select -p >/dev/null 2>&1; then
        echo "Xcode's command line tools are missing: run 'xcode-select --install', then this again." >&2
        exit 1
    fi
    need_cargo
    if ! command -v cmake >/dev/null 2>&1 && ! [ -x "$(python3 -m site --user-base)/bin/cmake" ]; then
        echo "Installing CMake from PyPI (python3 -m pip install --user cmake): libopus builds with it"
        python3 -m pip install --user --quiet cmake
    fi
    exit 0
    ;;
Linux) ;;
*)
    echo "install-deps: $(uname -s) is not supported; install a C toolchain and Rust by hand." >&2
    need_cargo
    exit 0
    ;;
esac

need_cargo

packages=(build-essential pkg-config cmake)
desktop=(libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libsoup-3.0-dev libssl-dev
    libasound2-dev)
case "$mode" in
headless) ;;
bench) packages+=(nginx-light valgrind) ;;
desktop) packages+=("${desktop[@]}") ;;
test)
    packages+=("${desktop[@]}" python3 chromium nginx-light
        xvfb xauth openbox trayer xdotool xclip imagemagick dbus-daemon dbus-bin webkit2gtk-driver
        pulseaudio pulseaudio-utils libasound2-plugins xterm zenity x11-utils)
    ;;
*)
    echo "usage: $0 headless|bench|desktop|test" >&2
    exit 2
    ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: not a Debian-based system; make sure these (or your distribution's equivalents) are installed:" >&2
    echo "  ${packages[*]}" >&2
    exit 0
fi

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1 && { [ -t 0 ] || sudo -n true 2>/dev/null; }; then
    sudo=(sudo)
else
    echo "Murmur needs these packages and cannot install them without root. Run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
