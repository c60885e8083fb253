#!/usr/bin/env bash
# Build (once) and cache the Helm CLI used by `npm run test:helm`: helm.sh/helm/v3/cmd/helm at a
# pinned version, compiled from the Go module proxy (no prebuilt binary download).
#
# v3.18 is the Helm line built against the Kubernetes 1.33 libraries (k8s.io/client-go v0.33),
# the version of the e2e control plane (test/e2e/build-control-plane.sh), so `helm lint` and
# `helm template` default to the same Kubernetes version the dry-runs use.
#
# Output (the last line on stdout): the directory holding `helm`,
# $CACHE/helm/<version>/bin. Idempotent: a second run only checks that the binary exists.
#
# Env:
#   HELM_VERSION            helm.sh/helm/v3 version (default below)
#   ENVOY_XDS_E2E_CACHE     cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/envoy-xds-injector)
#   GO                      go binary (default: `go` on PATH, else /usr/local/go/bin/go)
#   HELM_FORCE_REBUILD=1    ignore the cached binary
set -euo pipefail
{

HELM_VERSION="${HELM_VERSION:-v3.18.6}"
CACHE_ROOT="${ENVOY_XDS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/envoy-xds-injector}"
OUT_DIR="$CACHE_ROOT/helm/$HELM_VERSION/bin"

log() { printf '[build-helm] %s\n' "$*" >&2; }
die() { printf '[build-helm] ERROR: %s\n' "$*" >&2; exit 1; }

cached() { [[ "${HELM_FORCE_REBUILD:-0}" != 1 && -x "$OUT_DIR/helm" ]]; }
if cached; then
  log "cached: $OUT_DIR/helm"
  echo "$OUT_DIR"
  exit 0
fi

[[ "$HELM_VERSION" =~ ^v3\.[0-9]+\.[0-9]+$ ]] || die "HELM_VERSION must look like v3.N.N, got '$HELM_VERSION'"

GO="${GO:-}"
if [[ -z "$GO" ]]; then
  if command -v go >/dev/null 2>&1; then GO=$(command -v go)
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  fi
fi
MISSING="npm run test:helm needs Go >= 1.24 (on PATH, /usr/local/go/bin/go or \$GO) to build helm $HELM_VERSION once (cached in $OUT_DIR)"
[[ -n "$GO" ]] && "$GO" version >/dev/null 2>&1 || die "$MISSING"
go_ver=$("$GO" env GOVERSION)
go_minor=$(sed -E 's/^go1\.([0-9]+).*/\1/' <<<"$go_ver")
if ! [[ "$go_minor" =~ ^[0-9]+$ ]] || (( go_minor < 24 )); then die "found $go_ver. $MISSING"; fi

# Never pick up a go.work, a vendor dir or a toolchain switch from the caller.
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0
unset GOFLAGS

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.build-helm.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
  if cached; then log "built by a concurrent run: $OUT_DIR/helm"; echo "$OUT_DIR"; exit 0; fi
fi

start=$(date +%s)
log "building helm $HELM_VERSION with $go_ver ($(nproc 2>/dev/null || echo ?) cpus)"

# The Kubernetes version Helm assumes when no cluster is asked (`helm template`, `helm lint`):
# upstream's Makefile derives it from its k8s.io/client-go requirement (v0.N -> 1.N).
gomod_json=$(cd "$CACHE_ROOT" && "$GO" mod download -json "helm.sh/helm/v3@$HELM_VERSION") \
  || die "go mod download helm.sh/helm/v3@$HELM_VERSION failed (is the Go module proxy reachable? GOPROXY=$("$GO" env GOPROXY))"
gomod=$(sed -nE 's/^[[:space:]]*"GoMod": "(.*)",?$/\1/p' <<<"$gomod_json")
[[ -f "$gomod" ]] || die "no go.mod in: $gomod_json"
k8s_minor=$(sed -nE 's#^[[:space:]]*k8s\.io/client-go v0\.([0-9]+)\..*#\1#p' "$gomod" | head -1)
[[ "$k8s_minor" =~ ^[0-9]+$ ]] || die "cannot read the k8s.io/client-go version from $gomod"

ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done

TMP_OUT="$CACHE_ROOT/helm/$HELM_VERSION/bin.tmp.$$"
rm -rf "$TMP_OUT"; mkdir -p "$TMP_OUT"
trap 'rm -rf "$TMP_OUT"' EXIT
# `go install pkg@version` builds in module mode from the module's own go.mod (helm has no
# replace directives), outside any work tree.
(cd "$CACHE_ROOT" && GOBIN="$TMP_OUT" "$GO" install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") >&2 \
  || die "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION failed"
"$TMP_OUT/helm" version --short >&2 || die "helm version failed"
mkdir -p "$OUT_DIR"
mv -f "$TMP_OUT/helm" "$OUT_DIR/helm"
log "done in $(( $(date +%s) - start ))s: $OUT_DIR/helm (Kubernetes 1.$k8s_minor by default)"
echo "$OUT_DIR"
exit 0
}
