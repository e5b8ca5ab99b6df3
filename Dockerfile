# standin gateway image.
#   Build: docker build -t standin .
#   Run:   docker run -p 8877:8877 -p 8878:8878 -v standin-data:/data standin
# Ports: 8877 is the proxy (sandboxes' HTTPS_PROXY), 8878 the control API (sidecar/SDK; every call
# but /healthz and /openapi.json needs an API key: `docker exec <c> standin apikey create sidecar`).
# The state directory (database, master key, CA) is a volume; keep it, or every sandbox must trust
# a new CA. Pass STANDIN_MASTER_KEY to keep the master key out of the volume.
# A fleet on PostgreSQL: pass STANDIN_DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/DB and the
# same STANDIN_MASTER_KEY to every gateway; the store and the CA then live in the database
# (README "Fleet on PostgreSQL"), the volume keeps the network log.
# A documented sidecar layout: examples/sidecar/README.md. test/e2e/dockerfile.test.ts runs the
# CMD and HEALTHCHECK below outside Docker.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source: it needs a toolchain in the build stage only.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
# `npm ci` builds dist/ (the prepare script); then dev dependencies go.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production STANDIN_HOME=/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
RUN ln -s /app/dist/cli/main.js /usr/local/bin/standin && chmod 0755 /app/dist/cli/main.js \
 && mkdir -p /data && chown node:node /data && chmod 0700 /data
USER node
VOLUME ["/data"]
EXPOSE 8877 8878
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:8878/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
# A smaller young generation: about 20 MB less RSS under load, same throughput (scripts/bench).
ENTRYPOINT ["node", "--max-semi-space-size=4", "/app/dist/cli/main.js"]
CMD ["serve", "--listen", "0.0.0.0:8877", "--control", "0.0.0.0:8878"]
