# syntax=docker/dockerfile:1
# The StudyLab operator image: compiled JavaScript and production dependencies only, non-root.
#
# Build it with the real base images named below. The project's own tests (make test-image) build this
# same file on machines that reach only the package registries, against stand-ins for these two bases
# made by hack/stand-in-bases.sh (a Debian root plus Node from the npm registry, tagged with these
# names). The stand-ins exist only to build and test offline; never ship an image built on them.

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
# node is PID 1 and gets SIGTERM directly. A PID 1 ignores signals it has no handler for; main.ts
# installs handlers for SIGTERM and SIGINT and shuts down gracefully (lease released, in-flight
# reconciles drained), so no init process is needed.
# The script is part of the entrypoint, not the CMD: a container's args (the Deployment's `args:`,
# `docker run IMAGE --flag`) replace the CMD, and must reach main.js, not node.
ENTRYPOINT ["/nodejs/bin/node", "dist/src/main.js"]
