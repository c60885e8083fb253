#!/usr/bin/env bash
# Build (once) and cache the Kubernetes control-plane binaries used by the e2e
# suite: kube-apiserver and kube-controller-manager from k8s.io/kubernetes.
#
# The upstream module cannot be `go install`ed directly because its go.mod
# replaces every k8s.io/<staging> module with a local ./staging path. We
# generate a throw-away wrapper module (in the cache dir, never in the repo)
# that requires k8s.io/kubernetes and replaces each staging module with its
# published v0.<minor>.<patch> tag, then `go build`s the two commands.
#
# Output (printed as the last line on stdout): the directory holding the
# binaries, $CACHE/kubernetes/<version>/bin. Idempotent: a second run only
# checks that the binaries exist.
#
# `build-control-plane.sh etcd` instead builds etcd ($ETCD_VERSION, default
# v3.5.21, the etcd client version k8s 1.33 uses) through a two-line wrapper
# around go.etcd.io/etcd/server/v3/etcdmain, into $CACHE/etcd/<version>/bin:
# the fallback when no etcd is installed (Debian: apt-get install etcd-server).
#
# Env:
#   K8S_VERSION            k8s.io/kubernetes version (default below)
#   ENVOY_XDS_E2E_CACHE    cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/envoy-xds-injector)
#   GO                     go binary (default: `go` on PATH, else /usr/local/go/bin/go)
#   E2E_FORCE_REBUILD=1    ignore cached binaries
#   E2E_BUILD_KUBECTL=1    also build kubectl (for `kubectl apply -k manifests/...` tests)
#
# `build-control-plane.sh node` builds kubelet + kube-scheduler instead (same version, same wrapper
# module, same bin dir and Go build cache): the node of test/node (see test/node/README.md).
set -euo pipefail
# The whole script is one { ...; } block: bash parses it before running it, so editing or
# updating this file while a (long) build runs cannot make the running copy read garbage.
{

K8S_VERSION="${K8S_VERSION:-v1.33.13}"
ETCD_VERSION="${ETCD_VERSION:-v3.5.21}"
CACHE_ROOT="${ENVOY_XDS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/envoy-xds-injector}"
MODE="${1:-control-plane}"
case "$MODE" in
  control-plane)
    OUT_DIR="$CACHE_ROOT/kubernetes/$K8S_VERSION/bin"
    BINARIES=(kube-apiserver kube-controller-manager)
    [[ "${E2E_BUILD_KUBECTL:-0}" == 1 ]] && BINARIES+=(kubectl)
    ;;
  node)
    OUT_DIR="$CACHE_ROOT/kubernetes/$K8S_VERSION/bin"
    BINARIES=(kubelet kube-scheduler)
    ;;
  etcd)
    OUT_DIR="$CACHE_ROOT/etcd/$ETCD_VERSION/bin"
    BINARIES=(etcd)
    ;;
  *) echo "usage: $0 [control-plane|node|etcd]" >&2; exit 2 ;;
esac

log() { printf '[build-control-plane] %s\n' "$*" >&2; }
die() { printf '[build-control-plane] ERROR: %s\n' "$*" >&2; exit 1; }

# Binaries still to build (all of them with E2E_FORCE_REBUILD=1).
missing() {
  local b
  for b in "${BINARIES[@]}"; do
    if [[ "${E2E_FORCE_REBUILD:-0}" == 1 || ! -x "$OUT_DIR/$b" ]]; then echo "$b"; fi
  done
}
have_all() { [[ -z "$(missing)" ]]; }

start=$(date +%s)

if have_all; then
  log "cached: $OUT_DIR (${BINARIES[*]})"
  echo "$OUT_DIR"
  exit 0
fi

# --- locate Go -----------------------------------------------------------
GO="${GO:-}"
if [[ -z "$GO" ]]; then
  if command -v go >/dev/null 2>&1; then GO=$(command -v go)
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  fi
fi
GO_MISSING_MSG="npm run test:e2e needs Go >= 1.24 (on PATH, /usr/local/go/bin/go or \$GO) to build $(missing | tr '\n' ' ')$K8S_VERSION once (cached in $OUT_DIR); install Go, or set E2E_K8S_BIN_DIR to a dir holding kube-apiserver + kube-controller-manager (and E2E_KUBECTL), or run against a cluster with KUBECONFIG=... E2E_USE_EXISTING_CLUSTER=1"
[[ "$MODE" == node ]] && GO_MISSING_MSG="npm run test:node needs Go >= 1.24 (on PATH, /usr/local/go/bin/go or \$GO) to build $(missing | tr '\n' ' ')$K8S_VERSION once (cached in $OUT_DIR); install Go, or set NODE_K8S_BIN_DIR to a dir holding kubelet + kube-scheduler"
[[ "$MODE" == etcd ]] && GO_MISSING_MSG="no etcd found and no Go >= 1.24 to build one: apt-get install etcd-server, set E2E_ETCD_BIN, or set KUBECONFIG+E2E_USE_EXISTING_CLUSTER=1"
[[ -n "$GO" ]] && "$GO" version >/dev/null 2>&1 || die "$GO_MISSING_MSG"
go_ver=$("$GO" env GOVERSION)           # e.g. go1.26.8
go_minor=$(sed -E 's/^go1\.([0-9]+).*/\1/' <<<"$go_ver")
if ! [[ "$go_minor" =~ ^[0-9]+$ ]] || (( go_minor < 24 )); then
  die "found $go_ver. $GO_MISSING_MSG"
fi

# Never pick up a go.work / vendor dir / toolchain switch from the caller.
export GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
export GOPATH="${GOPATH:-$("$GO" env GOPATH)}"

mkdir -p "$CACHE_ROOT"
# Serialise concurrent builds (e.g. two test runs started together).
exec 9>"$CACHE_ROOT/.build-control-plane.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
  if [[ "${E2E_FORCE_REBUILD:-0}" != 1 ]] && have_all; then
    log "built by a concurrent run: $OUT_DIR"; echo "$OUT_DIR"; exit 0
  fi
fi

mapfile -t TO_BUILD < <(missing)

if [[ "$MODE" == etcd ]]; then
  WRAP="$CACHE_ROOT/build/etcd-$ETCD_VERSION"
  rm -rf "$WRAP"; mkdir -p "$WRAP"
  log "building etcd $ETCD_VERSION with $go_ver"
  cat >"$WRAP/go.mod" <<GOEOF
// Generated by test/e2e/build-control-plane.sh - throw-away, do not edit.
module envoy-xds-injector.local/etcd-build

go 1.24.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOEOF
  cat >"$WRAP/main.go" <<'GOEOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GOEOF
  cd "$WRAP"
  t=$(date +%s)
  "$GO" get "go.etcd.io/etcd/server/v3/etcdmain@$ETCD_VERSION" >&2 || die "go get etcd failed"
  TMP_OUT="$CACHE_ROOT/etcd/$ETCD_VERSION/bin.tmp.$$"
  rm -rf "$TMP_OUT"; mkdir -p "$TMP_OUT"
  trap 'rm -rf "$TMP_OUT"' EXIT
  "$GO" build -trimpath -ldflags "-s -w" -o "$TMP_OUT/etcd" . >&2 || die "go build etcd failed"
  "$TMP_OUT/etcd" --version >&2 || die "etcd --version failed"
  mkdir -p "$OUT_DIR"; mv -f "$TMP_OUT/etcd" "$OUT_DIR/etcd"
  log "etcd done in $(( $(date +%s) - start ))s: $OUT_DIR"
  echo "$OUT_DIR"
  exit 0
fi

if [[ ! "$K8S_VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]]; then
  die "K8S_VERSION must look like v1.33.N, got '$K8S_VERSION'"
fi
STAGING_VERSION="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
log "building ${TO_BUILD[*]} $K8S_VERSION (staging $STAGING_VERSION) with $go_ver ($(nproc 2>/dev/null || echo ?) cpus); cold builds take a while"

# --- read the staging module list from the upstream go.mod ----------------
log "go mod download k8s.io/kubernetes@$K8S_VERSION"
dl_json=$(cd "$CACHE_ROOT" && "$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION") \
  || die "go mod download k8s.io/kubernetes@$K8S_VERSION failed (is the Go module proxy reachable? GOPROXY=$("$GO" env GOPROXY))"
upstream_gomod=$(sed -nE 's/^[[:space:]]*"GoMod": "(.*)",?$/\1/p' <<<"$dl_json")
[[ -f "$upstream_gomod" ]] || die "could not find upstream go.mod in: $dl_json"
mapfile -t staging < <(sed -nE 's#^[[:space:]]*(k8s\.io/[A-Za-z0-9._-]+)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$upstream_gomod" | sort -u)
(( ${#staging[@]} > 10 )) || die "parsed only ${#staging[@]} staging modules from $upstream_gomod"
godebug_lines=$(grep -E '^godebug ' "$upstream_gomod" || true)
log "${#staging[@]} staging modules -> $STAGING_VERSION"

# --- generate the wrapper module ------------------------------------------
WRAP="$CACHE_ROOT/build/kubernetes-$K8S_VERSION"
rm -rf "$WRAP"; mkdir -p "$WRAP"
{
  echo "// Generated by test/e2e/build-control-plane.sh - throw-away, do not edit."
  echo "module envoy-xds-injector.local/k8s-build"
  echo
  echo "go 1.24.0"
  echo
  [[ -n "$godebug_lines" ]] && { echo "$godebug_lines"; echo; }
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do echo "	$m => $m $STAGING_VERSION"; done
  echo ")"
} >"$WRAP/go.mod"
# A blank import keeps `go mod tidy`-style tools happy; the build itself just
# names the upstream command packages.
cat >"$WRAP/tools.go" <<'GOEOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GOEOF

cd "$WRAP"
t=$(date +%s)
log "resolving module graph (go get)"
pkgs=(); for b in "${TO_BUILD[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
"$GO" get "${pkgs[@]/%/@$K8S_VERSION}" >&2 \
  || die "go get failed"
log "module graph resolved in $(( $(date +%s) - t ))s"

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

TMP_OUT="$CACHE_ROOT/kubernetes/$K8S_VERSION/bin.tmp.$$"
rm -rf "$TMP_OUT"; mkdir -p "$TMP_OUT"
trap 'rm -rf "$TMP_OUT"' EXIT
t=$(date +%s)
log "go build -trimpath (this is the slow part)"
"$GO" build -trimpath -ldflags "$ldflags" -o "$TMP_OUT/" "${pkgs[@]}" >&2 \
  || die "go build failed"
log "compiled in $(( $(date +%s) - t ))s"

mkdir -p "$OUT_DIR"
for b in "${TO_BUILD[@]}"; do
  [[ -x "$TMP_OUT/$b" ]] || die "build produced no $b"
  if [[ "$b" == kubectl ]]; then "$TMP_OUT/$b" version --client >&2; else "$TMP_OUT/$b" --version >&2; fi \
    || die "$b --version failed"
  mv -f "$TMP_OUT/$b" "$OUT_DIR/$b" # atomic rename on the same filesystem
done
log "done in $(( $(date +%s) - start ))s: $OUT_DIR"
echo "$OUT_DIR"
exit 0
}
