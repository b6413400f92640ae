#!/usr/bin/env bash
# CI: build the Linux .deb, install it with dpkg, and check the installed program the way a
# technician's machine would see it: `--version`, the desktop entry, the AppStream metainfo, the
# icons, and a `preview` against the embedded sandbox through the installed binary.
#
# Run as root on Debian 12 from anywhere: `bash packaging/ci-deb.sh`. It installs what it needs.
# CW_DEB_PROFILE=release builds the .deb technicians get; CI packages the dev build the tests
# just made (cargo-deb strips it), because a release build of the GUI stack costs CI ~12 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly CARGO_DEB_VERSION=3.8.0
readonly PROFILE="${CW_DEB_PROFILE:-dev}"
readonly APP_ID=io.github.cwshareddevices.CwSharedDevices
readonly INSTALLED=/usr/bin/cw-shared-devices
# Generous: the sandbox starts in well under a second.
readonly SANDBOX_START_TIMEOUT_SECS=120

passed=0
skipped=0
ok() {
    passed=$((passed + 1))
    echo "ok: $*"
}
fail() {
    echo "FAILED: $*" >&2
    exit 1
}

work_dir="$(mktemp -d)"
sandbox_pid=""
cleanup() {
    if [[ -n "$sandbox_pid" ]] && kill -0 "$sandbox_pid" 2>/dev/null; then
        kill "$sandbox_pid" 2>/dev/null || true
        wait "$sandbox_pid" 2>/dev/null || true
    fi
    rm -rf "$work_dir"
}
trap cleanup EXIT

echo "== tools"
export DEBIAN_FRONTEND=noninteractive
# dpkg-dev: dpkg-shlibdeps, which cargo-deb uses to compute the package's library dependencies.
tools=(desktop-file-utils appstream dpkg-dev ca-certificates)
if ! apt-get install -y --no-install-recommends --no-upgrade "${tools[@]}"; then
    apt-get update && apt-get install -y --no-install-recommends --no-upgrade "${tools[@]}"
fi
if [[ "$(cargo deb --version 2>/dev/null || true)" != "cargo-deb $CARGO_DEB_VERSION" ]]; then
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
fi

echo "== build the .deb (profile $PROFILE)"
# cargo-deb prints the path of the package it wrote on its last line of stdout.
deb="$(cargo deb --locked --profile "$PROFILE" --fast | tail -n 1)"
[[ -f "$deb" ]] || fail "cargo deb did not produce a package (last line: $deb)"
ok "built $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --info "$deb"

echo "== install it"
dpkg -i "$deb"
[[ -x "$INSTALLED" ]] || fail "$INSTALLED is missing after dpkg -i"
[[ "$(command -v cw-shared-devices)" == "$INSTALLED" ]] ||
    fail "cw-shared-devices on PATH is $(command -v cw-shared-devices), not the installed $INSTALLED"
ok "installed $(dpkg-query -W -f='${Package} ${Version}' cw-shared-devices), binary $(du -h "$INSTALLED" | cut -f1)"

echo "== the installed program"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
version_output="$("$INSTALLED" --version)"
echo "$version_output"
[[ "$version_output" == *"$version"* ]] ||
    fail "cw-shared-devices --version does not mention version $version from Cargo.toml"
ok "cw-shared-devices --version says $version"

echo "== desktop integration"
desktop_file="/usr/share/applications/$APP_ID.desktop"
desktop-file-validate "$desktop_file" || fail "desktop-file-validate rejected $desktop_file"
ok "desktop-file-validate $desktop_file"
metainfo="/usr/share/metainfo/$APP_ID.metainfo.xml"
appstreamcli validate --no-net "$metainfo" || fail "appstreamcli rejected $metainfo"
grep -q "<release version=\"$version\"" "$metainfo" ||
    fail "$metainfo has no <release version=\"$version\">: add this release to packaging/linux/"
ok "appstreamcli validate $metainfo (release $version listed)"
for size in 16 24 32 48 64 128 256 512; do
    icon="/usr/share/icons/hicolor/${size}x${size}/apps/$APP_ID.png"
    [[ -f "$icon" ]] || fail "icon $icon is missing"
done
[[ -f "/usr/share/icons/hicolor/scalable/apps/$APP_ID.svg" ]] || fail "the scalable icon is missing"
ok "icons installed at 16 to 512 px and scalable"

echo "== preview against the sandbox, through the installed binary"
# The installed binary serves the embedded sandbox itself (hidden subcommand), in a process of
# its own; the preview then talks to it over loopback like it would to ConnectWise.
{
    sandbox_out="$work_dir/sandbox.out"
    "$INSTALLED" serve-sandbox >"$sandbox_out" 2>"$work_dir/sandbox.err" &
    sandbox_pid=$!

    # NAME=value as the sandbox prints it (an `export ` prefix and quotes are tolerated).
    sandbox_value() {
        sed -n "s/^\(export \)\{0,1\}$1=//p" "$sandbox_out" | tail -n 1 | sed "s/^[\"']//; s/[\"']\$//"
    }
    needed=(CW_API_URL SYNTHESIZE_URL CW_COMPANY_ID CW_PUBLIC_KEY CW_PRIVATE_KEY CW_CLIENT_ID
        SYNTHESIZE_VENDOR_API_KEY SYNTHESIZE_PARTNER_API_KEY)
    deadline=$((SECONDS + SANDBOX_START_TIMEOUT_SECS))
    while :; do
        missing=()
        for name in "${needed[@]}"; do
            [[ -n "$(sandbox_value "$name")" ]] || missing+=("$name")
        done
        ((${#missing[@]} == 0)) && break
        if ! kill -0 "$sandbox_pid" 2>/dev/null; then
            cat "$work_dir/sandbox.err" >&2
            fail "the sandbox exited before printing ${missing[*]}"
        fi
        if ((SECONDS >= deadline)); then
            cat "$work_dir/sandbox.err" >&2
            fail "the sandbox did not print ${missing[*]} within ${SANDBOX_START_TIMEOUT_SECS} s"
        fi
        sleep 0.2
    done
    ok "sandbox started at $(sandbox_value CW_API_URL) and $(sandbox_value SYNTHESIZE_URL)"

    # Credentials only through the environment, never on the command line or in this log; the
    # journal and log go to a scratch home, not root's.
    preview_out="$work_dir/preview.out"
    preview_status=0
    env HOME="$work_dir/home" XDG_CONFIG_HOME="$work_dir/home/config" \
        XDG_DATA_HOME="$work_dir/home/data" XDG_STATE_HOME="$work_dir/home/state" \
        XDG_CACHE_HOME="$work_dir/home/cache" \
        CW_COMPANY_ID="$(sandbox_value CW_COMPANY_ID)" \
        CW_PUBLIC_KEY="$(sandbox_value CW_PUBLIC_KEY)" \
        CW_PRIVATE_KEY="$(sandbox_value CW_PRIVATE_KEY)" \
        CW_CLIENT_ID="$(sandbox_value CW_CLIENT_ID)" \
        SYNTHESIZE_VENDOR_API_KEY="$(sandbox_value SYNTHESIZE_VENDOR_API_KEY)" \
        SYNTHESIZE_PARTNER_API_KEY="$(sandbox_value SYNTHESIZE_PARTNER_API_KEY)" \
        "$INSTALLED" preview \
        --cw-api-url "$(sandbox_value CW_API_URL)" \
        --synthesize-url "$(sandbox_value SYNTHESIZE_URL)" >"$preview_out" || preview_status=$?
    cat "$preview_out"
    ((preview_status == 0)) || fail "the installed cw-shared-devices preview exited with $preview_status"
    [[ -s "$preview_out" ]] || fail "the installed cw-shared-devices preview printed no table"
    ok "installed cw-shared-devices preview against the sandbox"
}

echo "packaging: $passed passed, 0 failed, $skipped skipped"
