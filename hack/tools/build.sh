#!/usr/bin/env bash
# Builds helm and promtool from the Go module proxy into the same cache as the
# local control plane (~/.cache/studylab/bin/<tool>-<version>/), keyed by
# version. Does nothing when a binary is already there, so `make test` calls it
# every time. Usage: hack/tools/build.sh [helm] [promtool] (both by default);
# prints nothing on stdout but, with --print-path TOOL, the binary's path.
#
# Both modules are built as their own main modules (`go install pkg@version`),
# which works because neither go.mod has replace directives at these versions.
# The builds are CPU heavy (minutes on 2 cores), so they run niced and one at a time.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

cache=${STUDYLAB_CACHE:-$HOME/.cache/studylab}
bin="$cache/bin"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=

log() { printf '[tools-build] %s\n' "$*" >&2; }

helm_dir() { echo "$bin/helm-$HELM_VERSION"; }
promtool_dir() { echo "$bin/promtool-$PROMETHEUS_MODULE_VERSION"; }

build_helm() {
  local v=$HELM_VERSION out; out=$(helm_dir)
  [ -x "$out/helm" ] && return
  log "building helm $v (a few minutes on 2 cores)"
  local p=helm.sh/helm/v4/internal/version
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  GOBIN="$out.tmp" nice -n 10 go install -trimpath \
    -ldflags "-s -w -X $p.version=$v -X $p.metadata= -X $p.gitTreeState=clean" \
    "helm.sh/helm/v4/cmd/helm@$v"
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_promtool() {
  local v=$PROMETHEUS_MODULE_VERSION out; out=$(promtool_dir)
  [ -x "$out/promtool" ] && return
  # v0.316.0 -> 3.16.0, the version Prometheus itself reports.
  local minor=${v#v0.}; minor=${minor%%.*}; minor=$((10#${minor:1}))
  local release="3.$minor.${v##*.}"
  log "building promtool $release ($v) (a few minutes on 2 cores)"
  local p=github.com/prometheus/common/version
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  GOBIN="$out.tmp" nice -n 10 go install -trimpath \
    -ldflags "-s -w -X $p.Version=$release -X $p.Branch=HEAD -X $p.Revision=$v" \
    "github.com/prometheus/prometheus/cmd/promtool@$v"
  rm -rf "$out" && mv "$out.tmp" "$out"
}

if [ "${1:-}" = "--print-path" ]; then
  case "${2:-}" in
  helm) echo "$(helm_dir)/helm" ;;
  promtool) echo "$(promtool_dir)/promtool" ;;
  *) log "unknown tool: ${2:-}"; exit 2 ;;
  esac
  exit 0
fi

tools=("$@")
[ ${#tools[@]} -eq 0 ] && tools=(helm promtool)
mkdir -p "$bin"
for t in "${tools[@]}"; do
  case "$t" in
  helm) build_helm ;;
  promtool) build_promtool ;;
  *) log "unknown tool: $t (helm, promtool)"; exit 2 ;;
  esac
done
