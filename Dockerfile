# syntax=docker/dockerfile:1
# The StudyLab operator image: node and the operator bundled into one file (hack/bundle.ts), non-root.
#
# Build it with the real base images pinned below. The project's own tests (make test-image) build this
# same file on machines that reach only the package registries, against stand-ins for these two bases
# made by hack/stand-in-bases.sh (a Debian root plus Node from the npm registry, tagged with the same
# names without the digest, and passed as --build-arg BUILD_BASE=... RUNTIME_BASE=...). The stand-ins
# exist only to build and test offline; never ship an image built on them.

# The bases, pinned by the digest of their multi-arch index: a tag can be moved to other bytes, a
# digest cannot. To update one, print the index digest of the tag and replace the part after `@`:
#   docker buildx imagetools inspect node:22-bookworm-slim          (the "Digest:" line)
#   docker buildx imagetools inspect gcr.io/distroless/nodejs22-debian12:nonroot
# (or `crane digest <tag>`); Renovate and Dependabot's docker ecosystem update these ARG lines too.
# Keep the two Node majors equal, and the tag part as it is: hack/stand-in-bases.sh reads it.
ARG BUILD_BASE=node:22-bookworm-slim@sha256:43ac6c60b8f89723f746e8a92ce91abd5017e627ce1ddfe4238355d3a30b772c
ARG RUNTIME_BASE=gcr.io/distroless/nodejs22-debian12:nonroot@sha256:13593b7570658e8477de39e2f4a1dd25db2f836d68a0ba771251572d23bb4f8e

# --- build: bundle the operator into one ES module with the dev dependencies (hack/bundle.ts) ---
FROM ${BUILD_BASE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY hack/bundle.ts ./hack/
RUN npm run bundle

# --- runtime: node and that one file; no node_modules, so nothing unused to load or to patch ---
FROM ${RUNTIME_BASE}
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/dist/bundle/main.mjs ./main.mjs
USER 65532:65532
EXPOSE 8443 8081
# node is PID 1 and gets SIGTERM directly. A PID 1 ignores signals it has no handler for; main.ts
# installs handlers for SIGTERM and SIGINT and shuts down gracefully (lease released, in-flight
# reconciles drained), so no init process is needed.
# The script is part of the entrypoint, not the CMD: a container's args (the Deployment's `args:`,
# `docker run IMAGE --flag`) replace the CMD, and must reach main.mjs, not node.
# --max-semi-space-size=1 (MiB): V8 lets its young generation grow to 16 MiB per semi-space under
# allocation (a scrape, a list) and keeps it while the process idles; capped, the idle operator holds
# 5 MiB less and one with 1000 labs about 45 MiB less, for about the same CPU on a restart onto 1000
# labs (measured for issue 19 on the local plane).
# The bench runs ours with the same flags (bench/lib/operator-process.ts).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=1", "main.mjs"]
