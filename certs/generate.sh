#!/usr/bin/env bash
# Certificates for the webhook without cert-manager: a private CA, a serving certificate for
# <service>.<namespace>.svc (and .svc.cluster.local) and a kustomize Component that carries the TLS
# Secret and the webhook's caBundle, for manifests/overlays/plain-certificate.
#
# Usage: certs/generate.sh [flags] [issue|stage-ca|promote-ca|retire-ca]
#
#   issue       (default) Create the CA if the output dir has none, then issue a NEW serving
#               certificate from it. Renewal is just this again: same CA, so the caBundle does not
#               change and re-applying only updates the Secret, which the server hot-reloads.
#   stage-ca    CA rotation 1/3: create the next CA; caBundle = current + next. Apply, wait until
#               the MutatingWebhookConfiguration is updated (immediate).
#   promote-ca  CA rotation 2/3: the next CA becomes current and issues a new serving certificate;
#               caBundle still holds both CAs. Apply, wait until every replica serves the new
#               certificate (the kubelet refreshes Secret volumes within about a minute).
#   retire-ca   CA rotation 3/3: drop the previous CA from the caBundle. Apply.
#
# Flags:
#   --service NAME     Service name              (default envoy-xds-injector)
#   --namespace NS     its namespace             (default envoy-xds-injector)
#   --webhook NAME     webhook name in the MutatingWebhookConfiguration envoy-xds-injector
#                      (default inject.envoy-xds-injector.io)
#   --out DIR          output directory          (default certs/out next to this script; git-ignored)
#   --days N           serving certificate validity in days (default 365)
#   --ca-days N        CA validity in days       (default 3650)
#
# The private keys stay in the output directory (mode 0600) and in the Secret. Never commit them.
set -euo pipefail

script_dir=$(cd "$(dirname "$0")" && pwd)
service=envoy-xds-injector
namespace=envoy-xds-injector
webhook=inject.envoy-xds-injector.io
out="$script_dir/out"
days=365
ca_days=3650
step=issue

die() { printf 'certs/generate.sh: %s\n' "$*" >&2; exit 2; }
log() { printf '%s\n' "$*" >&2; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

need_value() { [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --service) need_value "$@"; service=$2; shift 2 ;;
    --namespace) need_value "$@"; namespace=$2; shift 2 ;;
    --webhook) need_value "$@"; webhook=$2; shift 2 ;;
    --out) need_value "$@"; out=$2; shift 2 ;;
    --days) need_value "$@"; days=$2; shift 2 ;;
    --ca-days) need_value "$@"; ca_days=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    issue|stage-ca|promote-ca|retire-ca) step=$1; shift ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done

dns_label='^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'
[[ "$service" =~ $dns_label ]] || die "--service '$service' is not a DNS-1123 label"
[[ "$namespace" =~ $dns_label ]] || die "--namespace '$namespace' is not a DNS-1123 label"
[[ "$days" =~ ^[1-9][0-9]*$ ]] || die "--days must be a positive integer"
[[ "$ca_days" =~ ^[1-9][0-9]*$ ]] || die "--ca-days must be a positive integer"
command -v openssl >/dev/null || die "openssl not found (Debian/Ubuntu: apt-get install openssl)"

umask 077
mkdir -p "$out"
out=$(cd "$out" && pwd)

# A key inside a git work tree that git would not ignore is one `git add .` from being leaked.
if git -C "$out" rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
  ! git -C "$out" check-ignore -q "$out/tls.key"; then
  log "WARNING: $out is inside a git work tree and its keys are not git-ignored; ignore them before committing anything."
fi

host="$service.$namespace.svc"

new_ca() { # new_ca <basename>: a CA key and self-signed certificate
  # A unique subject per CA, so clients never confuse an old CA with its successor.
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$out/$1.key" -out "$out/$1.crt" -days "$ca_days" \
    -subj "/CN=$service webhook CA $(date -u +%Y%m%dT%H%M%SZ)-$(openssl rand -hex 4)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
  log "created CA $out/$1.crt"
}

issue_serving() { # a new key and certificate for the Service, signed by the current CA
  local tmp
  tmp=$(mktemp -d "$out/.issue.XXXXXX")
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$tmp/tls.key" -out "$tmp/tls.csr" -subj "/CN=$host" 2>/dev/null
  cat >"$tmp/ext.cnf" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:$host, DNS:$host.cluster.local
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  openssl x509 -req -in "$tmp/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 \
    -extfile "$tmp/ext.cnf" -out "$tmp/tls.crt" 2>/dev/null
  # Key before certificate: a reader that sees the new certificate also finds its key.
  mv -f "$tmp/tls.key" "$out/tls.key"
  mv -f "$tmp/tls.crt" "$out/tls.crt"
  rm -rf "$tmp"
  log "issued $out/tls.crt for $host and $host.cluster.local, valid $days days"
}

have() { [[ -f "$out/$1" ]]; }

case "$step" in
  issue)
    if ! have ca.crt || ! have ca.key; then new_ca ca; fi
    issue_serving
    ;;
  stage-ca)
    have ca.crt || die "no current CA in $out: run 'issue' first"
    have ca-previous.crt && die "a previous CA is still bundled: run 'retire-ca' first"
    have ca-next.crt && die "a next CA is already staged: run 'promote-ca'"
    new_ca ca-next
    ;;
  promote-ca)
    have ca-next.crt && have ca-next.key || die "no staged CA in $out: run 'stage-ca' first"
    mv -f "$out/ca.crt" "$out/ca-previous.crt"
    rm -f "$out/ca.key" # nothing is signed with the old CA any more
    mv -f "$out/ca-next.key" "$out/ca.key"
    mv -f "$out/ca-next.crt" "$out/ca.crt"
    issue_serving
    ;;
  retire-ca)
    have ca-previous.crt || die "no previous CA in $out: nothing to retire"
    rm -f "$out/ca-previous.crt"
    log "removed the previous CA from the bundle"
    ;;
esac

# The caBundle: every CA whose certificates may be served during this step of a rotation.
cat "$out/ca.crt" >"$out/ca-bundle.crt"
for extra in ca-next.crt ca-previous.crt; do
  if have "$extra"; then cat "$out/$extra" >>"$out/ca-bundle.crt"; fi
done

stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat >"$out/ca-bundle-patch.yaml" <<EOF
# Generated by certs/generate.sh ($step, $stamp). Do not edit; run the script again.
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: envoy-xds-injector
webhooks:
  - name: $webhook
    clientConfig:
      caBundle: $(base64 <"$out/ca-bundle.crt" | tr -d '\n')
EOF
cat >"$out/ca-bundle-validating-patch.yaml" <<EOF
# Generated by certs/generate.sh ($step, $stamp). Do not edit; run the script again.
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: envoy-xds-injector
webhooks:
  - name: validate-configmap.envoy-xds-injector.io
    clientConfig:
      caBundle: $(base64 <"$out/ca-bundle.crt" | tr -d '\n')
EOF

cat >"$out/kustomization.yaml" <<EOF
# Generated by certs/generate.sh ($step, $stamp). Do not edit; run the script again.
# Used as a component by manifests/overlays/plain-certificate.
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
secretGenerator:
  - name: envoy-xds-injector-tls
    namespace: $namespace
    type: kubernetes.io/tls
    files:
      - tls.crt
      - tls.key
    options:
      # The same name on every renewal: the Secret is updated in place and the running server
      # picks up the new certificate without a restart.
      disableNameSuffixHash: true
patches:
  - path: ca-bundle-patch.yaml
  - path: ca-bundle-validating-patch.yaml
EOF

chmod 600 "$out"/*.key
chmod 644 "$out"/*.crt "$out/ca-bundle-patch.yaml" "$out/ca-bundle-validating-patch.yaml" "$out/kustomization.yaml"
log "wrote $out/kustomization.yaml (TLS Secret + caBundle of $(grep -c 'BEGIN CERTIFICATE' "$out/ca-bundle.crt") CA(s))"
case "$step" in
  issue) log "next: kubectl apply -k manifests/overlays/plain-certificate" ;;
  stage-ca) log "next: kubectl apply -k manifests/overlays/plain-certificate, then certs/generate.sh promote-ca" ;;
  promote-ca) log "next: kubectl apply -k manifests/overlays/plain-certificate; once every replica serves the new certificate, certs/generate.sh retire-ca" ;;
  retire-ca) log "next: kubectl apply -k manifests/overlays/plain-certificate" ;;
esac
