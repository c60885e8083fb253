# syntax=docker/dockerfile:1
# One image for every role: the webhook (`serve`), the injected init container (`copy`) and the
# watcher sidecar (`watch`). The Deployment and the injector set only `args`, never `command`.
#
#   docker build -t ghcr.io/envoy-xds-injector/envoy-xds-injector:v$(node -p 'require("./package.json").version') .
#
# test/deploy/dockerfile.test.ts replays the build and runtime steps of this file without Docker;
# keep each RUN a single npm command so it can. test/node/build-images.sh builds it for real (buildah,
# a local node:24-trixie-slim stand-in) and `npm run test:node` runs that image on a real node.

# Node 24 "Krypton" LTS, on Debian 13. package.json engines (>= 22, the oldest LTS still supported;
# Node 20 is end-of-life) is the floor CI tests on; the image runs the newer LTS.
ARG NODE_IMAGE=node:24-trixie-slim

# --- build: all dependencies, compile TypeScript to dist/ ------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (the build) needs the sources, which come in the next layer, so a
# source change does not re-download dependencies.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- prod-deps: runtime dependencies only --------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime base: Node without npm, corepack or yarn (never used at run time; fewer CVEs) -------
# Keep a Debian base (not distroless): the injected watcher's startupProbe execs `test -e READY`.
FROM ${NODE_IMAGE} AS runtime-base
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx \
      /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
# The CLI by name for `kubectl exec POD -c envoy-xds-watch -- envoy-xds-injector status`.
RUN printf '#!/bin/sh\nexec node /app/dist/cli/main.js "$@"\n' > /usr/local/bin/envoy-xds-injector \
 && chmod 0755 /usr/local/bin/envoy-xds-injector

# --- runtime -------------------------------------------------------------------------------------
FROM runtime-base AS runtime
LABEL org.opencontainers.image.title="envoy-xds-injector" \
      org.opencontainers.image.description="Mutating webhook and sync sidecar for Envoy file-based xDS from a ConfigMap" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# Envoy's v3 API as a FileDescriptorSet, read by `validate` and the ConfigMap check (src/schema).
COPY schema ./schema
COPY package.json ./
# Numeric, so runAsNonRoot can verify it; the manifests and injected containers use the same uid.
USER 10001:10001
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
