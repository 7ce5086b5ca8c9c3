#!/usr/bin/env bash
# Builds the Go peer once into ~/.cache/studylab/bench/<hash>/, keyed by a hash of
# go.mod, go.sum and the sources, and prints the binary's path. Modules come through
# the Go module proxy; GOTOOLCHAIN=local so the machine's Go builds it as it is.
set -euo pipefail
here="$(cd "$(dirname "$0")/studylab-go" && pwd)"
export GOTOOLCHAIN=local
key="$(cat "$here/go.mod" "$here/go.sum" "$here"/*.go | sha256sum | cut -c1-16)"
out="${STUDYLAB_CACHE:-$HOME/.cache/studylab}/bench/studylab-go-$key"
bin="$out/studylab-go"
if [[ ! -x "$bin" ]]; then
  mkdir -p "$out"
  (cd "$here" && go build -trimpath -o "$bin.tmp" . >&2)
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
