# syntax=docker/dockerfile:1
# Runnel in a container: docker build -t runnel . && docker run -p 8080:8080 -v runnel-data:/data runnel
# Build stage: compile TypeScript and better-sqlite3's native addon, then drop dev dependencies.
FROM node:24-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

# Runtime stage: production dependencies and compiled code only, as a non-root user.
FROM node:24-slim
ENV NODE_ENV=production \
    RUNNEL_HOST=0.0.0.0 \
    RUNNEL_PORT=8080 \
    RUNNEL_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY openapi ./openapi
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 8080
# runnel health probes the URL the node recorded in its data directory (/data), so a
# node started with another --port or with TLS is checked where it really listens.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "bin/runnel.js", "health"]
# Exec form: node runs as PID 1 and gets SIGTERM itself, so the
# graceful shutdown (fsync, clean checkpoint) runs.
ENTRYPOINT ["node", "bin/runnel.js"]
CMD ["serve"]
