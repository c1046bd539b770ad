# syntax=docker/dockerfile:1
#
# Tessera container image.
#   docker build -t tessera .
#   docker build --build-arg WITH_SOFTHSM=true -t tessera:softhsm .   # adds SoftHSM2 for HSM trials in dev
#
# Linux x64 only: the committed lockfile holds the x64 builds of the native packages (@swc/core,
# @embedded-postgres) and no others, hence the fixed platform.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: install everything, compile with SWC, drop dev dependencies -------------------------------
FROM --platform=linux/amd64 ${NODE_IMAGE} AS build
WORKDIR /app

# Toolchain for native addons compiled at install time (pkcs11js, through node-gyp).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

COPY package.json package-lock.json ./
# The workspaces (SDK, console): npm installs their dependencies with the root's.
COPY packages ./packages
# `npm install` with the committed lockfile, not `npm ci`: the lockfile lacks the non-Linux @swc/core
# builds and `npm ci` rejects it; `npm install` uses it as is.
RUN npm install --no-audit --no-fund

COPY .swcrc ./
COPY src ./src
COPY migrations ./migrations
# The `node` devDependency (Node 24 for npm scripts on older hosts) is pruned here: at runtime the base
# image's Node 24 runs the app.
RUN npm run build \
 && npm run -s build:packages \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime -------------------------------------------------------------------------------------------
FROM --platform=linux/amd64 ${NODE_IMAGE} AS runtime

# SoftHSM2 is a software PKCS#11 token for trying the HSM code path in development; production uses the
# operator's HSM and its PKCS#11 module. Not installed unless asked for. Its default token directory is
# not writable by `node`: point SOFTHSM2_CONF at a config whose tokendir is.
ARG WITH_SOFTHSM=false
RUN if [ "$WITH_SOFTHSM" = "true" ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends softhsm2 \
      && rm -rf /var/lib/apt/lists/*; \
    fi

ENV NODE_ENV=production \
    HOST=0.0.0.0
WORKDIR /app

# Code stays owned by root: the `node` user can read it, not change it.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The admin console's static build, served at /console.
COPY --from=build /app/packages/console/dist ./packages/console/dist

# DATA_DIR (./data) is only written when no DATABASE_URL is given (embedded PostgreSQL under
# data/postgres); mount a volume there if you use it.
RUN mkdir -p /app/data && chown node:node /app/data

USER node
EXPOSE 3000

# Over HTTPS when TLS_CERT_FILE is set (the certificate is for the service's name, not 127.0.0.1: the check
# asks for readiness, it does not authenticate the server).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const tls = Boolean(process.env.TLS_CERT_FILE); require(tls ? 'node:https' : 'node:http').get({ host: '127.0.0.1', port: process.env.PORT || 3000, path: '/health/ready', rejectUnauthorized: false, timeout: 4000 }, (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]

# The tracing preload must come before the app (see docs/architecture.md, Tracing).
CMD ["node", "--enable-source-maps", "--require", "./dist/src/platform/telemetry/otel.js", "dist/src/main.js"]
