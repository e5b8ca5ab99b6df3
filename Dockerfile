# standin gateway image. Build: docker build -t standin .
# Run:   docker run -p 8877:8877 -v standin-data:/data standin
# The state directory (database, master key, CA) is a volume; keep it, or every sandbox must
# trust a new CA. Pass STANDIN_MASTER_KEY to keep the master key out of the volume.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source: it needs a toolchain in the build stage only.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production STANDIN_HOME=/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data
USER node
VOLUME ["/data"]
EXPOSE 8877
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD node -e "require('net').connect(8877,'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))"
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["serve", "--listen", "0.0.0.0:8877"]
