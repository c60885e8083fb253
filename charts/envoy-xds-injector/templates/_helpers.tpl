{{/* Chart name, for the app.kubernetes.io/name label. */}}
{{- define "envoy-xds-injector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Object name: fullnameOverride, else the release name when it contains the chart name, else
RELEASE-CHART. 63 characters at most (DNS label: it is the Service name).
*/}}
{{- define "envoy-xds-injector.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Selector labels: the kustomize base's two, plus the release. */}}
{{- define "envoy-xds-injector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "envoy-xds-injector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end }}

{{/* Labels of every object. */}}
{{- define "envoy-xds-injector.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "envoy-xds-injector.selectorLabels" . }}
app.kubernetes.io/version: {{ include "envoy-xds-injector.tag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: envoy-xds-injector
{{- end }}

{{- define "envoy-xds-injector.tag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* The Secret the Deployment mounts at /tls. */}}
{{- define "envoy-xds-injector.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "existingSecret" }}
{{- .Values.certificates.existingSecret.name }}
{{- else }}
{{- printf "%s-tls" (include "envoy-xds-injector.fullname" .) }}
{{- end }}
{{- end }}

{{/* The injector config file (config.yaml); the same keys as manifests/base/config.yaml. */}}
{{- define "envoy-xds-injector.config" -}}
{{- with .Values.injection }}
{{- with .image }}
image: {{ . | quote }}
{{- end }}
imagePullPolicy: {{ .imagePullPolicy }}
mountPath: {{ .mountPath | quote }}
sidecar: {{ .sidecar }}
resources:
  {{- range $key := list "cpuRequest" "memoryRequest" "memoryLimit" "cpuLimit" }}
  {{- with index $.Values.injection.resources $key }}
  {{ $key }}: {{ . | toString | quote }}
  {{- end }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
Serving certificate for mode=generate, as a dict with ca.crt, tls.crt and tls.key (PEM). The
Secret a previous install or upgrade created is reused as it is (`lookup` reads it from the
cluster), so an upgrade never replaces the CA the apiserver trusts. `helm template` and
client-side dry-runs cannot look up, so they always show a fresh pair.
*/}}
{{- define "envoy-xds-injector.newOrKeptCert" -}}
{{- $secretName := include "envoy-xds-injector.tlsSecretName" . }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $secretName }}
{{- $data := dict }}
{{- if $existing }}{{ $data = default (dict) $existing.data }}{{ end }}
{{- if and (index $data "ca.crt") (index $data "tls.crt") (index $data "tls.key") }}
ca.crt: {{ index $data "ca.crt" | b64dec | quote }}
tls.crt: {{ index $data "tls.crt" | b64dec | quote }}
tls.key: {{ index $data "tls.key" | b64dec | quote }}
{{- else }}
{{- $fullname := include "envoy-xds-injector.fullname" . }}
{{- $days := int .Values.certificates.generate.validityDays }}
{{- $host := printf "%s.%s.svc" $fullname .Release.Namespace }}
{{- $ca := genCAWithKey (printf "%s-ca" $fullname) $days (genPrivateKey "ecdsa") }}
{{- $cert := genSignedCertWithKey $host nil (list $host (printf "%s.cluster.local" $host)) $days $ca (genPrivateKey "ecdsa") }}
ca.crt: {{ $ca.Cert | quote }}
tls.crt: {{ $cert.Cert | quote }}
tls.key: {{ $cert.Key | quote }}
{{- end }}
{{- end }}

{{/*
The generated certificate, computed once per render: the Secret and the webhook's caBundle come
from different templates and must carry the same CA.
*/}}
{{- define "envoy-xds-injector.generatedCert" -}}
{{- if not (hasKey .Values "_generatedCert") }}
{{- $_ := set .Values "_generatedCert" (include "envoy-xds-injector.newOrKeptCert" . | fromYaml) }}
{{- end }}
{{- toYaml (index .Values "_generatedCert") }}
{{- end }}
