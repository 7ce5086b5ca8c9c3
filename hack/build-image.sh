#!/usr/bin/env bash
# Builds the operator image from the Dockerfile, unmodified, on this machine:
#   hack/build-image.sh [tag]     (default studylab-operator:dev, the name deploy/ uses)
#
# - The base images: the Dockerfile pins them by digest. With STUDYLAB_PULL_BASES=1 docker pulls
#   exactly those. Otherwise, on machines that reach no image registry, hack/stand-in-bases.sh finds
#   the real images by tag or makes offline stand-ins under the tags (only to build and test here;
#   see that script), and they are passed as --build-arg BUILD_BASE=... RUNTIME_BASE=..., since no
#   local image can carry a registry's digest.
# - The classic builder (DOCKER_BUILDKIT=0): it ignores the `# syntax=` line, where BuildKit would pull
#   a frontend image from Docker Hub.
# - --network=host: the build stages' `npm ci` reach the npm registry through the host's network,
#   since dockerd runs without a bridge (hack/docker-engine.sh).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tag=${1:-studylab-operator:dev}
log_dir=${STUDYLAB_CACHE:-$HOME/.cache/studylab}
log=$log_dir/image-build.log

say() { printf '[build-image] %s\n' "$*" >&2; }

if ! docker info >/dev/null 2>&1; then
  say "no Docker engine answers. As root on Debian, hack/docker-engine.sh installs and starts one;"
  say "elsewhere start Docker (https://docs.docker.com/engine/install/) so that \`docker info\` works."
  exit 1
fi
base_args=()
if [[ ${STUDYLAB_PULL_BASES:-} != 1 ]]; then
  while IFS= read -r arg; do base_args+=(--build-arg "$arg"); done < <("$repo/hack/stand-in-bases.sh")
  ((${#base_args[@]} == 4)) || { say "hack/stand-in-bases.sh named no bases"; exit 1; }
fi

mkdir -p "$log_dir"
say "docker build -t $tag (log: $log)"
start=$SECONDS
if ! DOCKER_BUILDKIT=0 docker build --force-rm --network=host "${base_args[@]}" -t "$tag" "$repo" >"$log" 2>&1; then
  say "docker build failed; the end of $log:"
  tail -n 40 "$log" >&2
  exit 1
fi
size=$(docker image inspect --format '{{.Size}}' "$tag")
say "built $tag in $((SECONDS - start)) s: $((size / 1000000)) MB"
