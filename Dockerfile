# syntax=docker/dockerfile:1
# The StudyLab operator image: compiled JavaScript and production dependencies only, non-root.

# --- build: compile TypeScript with the dev dependencies ---
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- deps: production dependencies only ---
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime ---
FROM gcr.io/distroless/nodejs22-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY package.json ./
USER 65532:65532
EXPOSE 8443 8081
# distroless's entrypoint is node itself, so node is PID 1 and gets SIGTERM directly. A PID 1 ignores
# signals it has no handler for; main.ts installs handlers for SIGTERM and SIGINT and shuts down
# gracefully (lease released, in-flight reconciles drained), so no init process is needed.
CMD ["dist/src/main.js"]
