// The demo's ConfigMap (cds.yaml, lds.yaml) and Envoy's bootstrap, with the ports of this run.
// The bootstrap stays out of the ConfigMap here: it names the demo's temporary paths, which a user
// editing the ConfigMap should not have to see (in a Pod it is `envoy.yaml`, paths under /etc/envoy).

/** cds.yaml: one static cluster, Envoy's own admin listener, used by lds.yaml's `/ready` route. */
export function cdsYaml(adminPort: number): string {
  return `resources:
  - "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
    name: demo_admin
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: demo_admin
      endpoints:
        - lb_endpoints:
            - endpoint:
                address:
                  socket_address: { address: 127.0.0.1, port_value: ${String(adminPort)} }
`;
}

/** lds.yaml: listener_0 on 127.0.0.1:`port`; `/ready` goes to cds.yaml's cluster, `/` answers `body`. */
export function ldsYaml(port: number, body: string): string {
  return `resources:
  - "@type": type.googleapis.com/envoy.config.listener.v3.Listener
    name: listener_0
    address:
      socket_address: { address: 127.0.0.1, port_value: ${String(port)} }
    filter_chains:
      - filters:
          - name: envoy.filters.network.http_connection_manager
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
              stat_prefix: demo
              http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
              route_config:
                name: demo_route
                virtual_hosts:
                  - name: demo
                    domains: ["*"]
                    routes:
                      # Proxied to the cluster in cds.yaml (Envoy's own admin /ready).
                      - match: { path: /ready }
                        route: { cluster: demo_admin }
                      # Answered by Envoy itself: change the body, save, and curl again.
                      - match: { prefix: / }
                        direct_response:
                          status: 200
                          body:
                            inline_string: ${JSON.stringify(body)}
`;
}

/** Envoy's bootstrap: admin on 127.0.0.1:`adminPort`, LDS and CDS from files in `configDir` (the emptyDir). */
export function bootstrapYaml(configDir: string, adminPort: number): string {
  return `node: { id: envoy-xds-demo, cluster: envoy-xds-demo }
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: ${String(adminPort)} }
dynamic_resources:
  cds_config:
    resource_api_version: V3
    path_config_source: { path: ${JSON.stringify(`${configDir}/cds.yaml`)} }
  lds_config:
    resource_api_version: V3
    path_config_source: { path: ${JSON.stringify(`${configDir}/lds.yaml`)} }
`;
}
