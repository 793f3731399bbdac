# One image for every app of the suite; APP picks which one runs, ROLE what it does.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
ENV APP=gateway ROLE=both
CMD ["sh", "-c", "exec node dist/apps/$APP/main.js"]
