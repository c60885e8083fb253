// The manifests bench:inject feeds `inject -f`: N Deployments as people write them (comments,
// flow and block style, probes, resources, volumes), each opted in for injection.

/** One annotated Deployment, about 80 lines; `i` makes names unique. */
export function deployment(i: number): string {
  const name = `edge-${String(i)}`;
  return `# Edge proxy ${String(i)}: Envoy in front of the app, config from a ConfigMap.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: team-${String(i % 17)}
  labels:
    app.kubernetes.io/name: ${name}
    app.kubernetes.io/part-of: storefront
  annotations:
    deployment.kubernetes.io/revision: "3"
spec:
  replicas: 3
  revisionHistoryLimit: 5
  selector:
    matchLabels: {app.kubernetes.io/name: ${name}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ${name}
        version: "v1.4.2"
      annotations:
        envoy-xds-injector.io/inject: "true"
        envoy-xds-injector.io/configmap: ${name}-xds
        prometheus.io/scrape: "true"
    spec:
      serviceAccountName: ${name}
      securityContext:
        runAsNonRoot: true
        runAsUser: 101
        fsGroup: 101
      containers:
      - name: envoy
        image: envoyproxy/envoy:v1.40.0
        args: ["-c", "/etc/envoy/envoy.yaml", "--log-level", "info"]
        ports:
        - {name: http, containerPort: 10000}
        - {name: admin, containerPort: 9901}
        readinessProbe:
          httpGet: {path: /ready, port: admin}
          periodSeconds: 5
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {memory: 256Mi}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
      - name: app
        image: registry.example/storefront:1.4.2
        env:
        - name: LISTEN_ADDR
          value: "127.0.0.1:8080"
        - name: POD_NAME
          valueFrom:
            fieldRef: {fieldPath: metadata.name}
        ports:
        - containerPort: 8080
        livenessProbe:
          httpGet: {path: /healthz, port: 8080}
          initialDelaySeconds: 10
        resources:
          requests: {cpu: 250m, memory: 256Mi}
          limits: {cpu: "1", memory: 512Mi}
        volumeMounts:
        - name: tls
          mountPath: /etc/tls
          readOnly: true
      volumes:
      - name: tls
        secret:
          secretName: ${name}-tls
          defaultMode: 0440   # YAML 1.1 octal, as kubectl reads it
`;
}

/** `count` Deployments as one multi-document stream. */
export function deployments(count: number): string {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(deployment(i));
  return parts.join('---\n');
}
