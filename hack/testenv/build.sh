#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok) from the Go module proxy into a cache outside the repo,
# keyed by version. Does nothing when the binaries are already there.
#
# Why a wrapper module: k8s.io/kubernetes replaces its ~31 staging modules with
# ./staging paths, so `go install k8s.io/kubernetes/cmd/...@vX` is refused. A
# module of our own requires k8s.io/kubernetes and points every staging module
# at its published v0.N.M tag instead. etcd's server module has the same
# problem and gets the same treatment.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

cache=${STUDYLAB_CACHE:-$HOME/.cache/studylab}
bin="$cache/bin"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$bin"

log() { printf '[testenv-build] %s\n' "$*" >&2; }

# --- Kubernetes --------------------------------------------------------------
build_kubernetes() {
  local v=$KUBERNETES_VERSION out="$bin/kubernetes-$KUBERNETES_VERSION"
  local comps=(kube-apiserver kube-controller-manager kube-scheduler)
  if all_present "$out" "${comps[@]}"; then return; fi
  log "building Kubernetes $v (cold: tens of minutes on 2 cores)"
  local work="$cache/src/kubernetes-$v"
  rm -rf "$work" && mkdir -p "$work"
  go mod download -json "k8s.io/kubernetes@$v" >"$work/download.json"
  local upstream_mod
  upstream_mod=$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' "$work/download.json")
  local minor=${v#v1.}; minor=${minor%%.*}
  local staging_tag="v0.${v#v1.}"
  {
    echo "module studylab.io/testenv/kubernetes"
    echo
    grep -E '^go [0-9]' "$upstream_mod"
    grep -E '^godebug ' "$upstream_mod" || true
    echo
    echo "require k8s.io/kubernetes $v"
    echo
    echo "replace ("
    # Every `k8s.io/foo => ./staging/src/k8s.io/foo` line becomes `k8s.io/foo => k8s.io/foo v0.N.M`.
    grep -E '^[[:space:]]*k8s\.io/[^ ]+ => \./staging/' "$upstream_mod" |
      awk -v tag="$staging_tag" '{print "\t" $1 " => " $1 " " tag}'
    echo ")"
  } >"$work/go.mod"
  local pkg=k8s.io/component-base/version cpkg=k8s.io/client-go/pkg/version
  local date; date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  local ldflags="-s -w"
  for p in $pkg $cpkg; do
    ldflags+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  local pkgs=()
  for c in "${comps[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  mkdir -p "$out.tmp"
  (cd "$work" && go mod download k8s.io/kubernetes && go get "k8s.io/kubernetes@$v" &&
    go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ldflags" -o "$out.tmp/" "${pkgs[@]}")
  rm -rf "$out" && mv "$out.tmp" "$out"
}

# --- etcd --------------------------------------------------------------------
build_etcd() {
  local v=$ETCD_VERSION out="$bin/etcd-$ETCD_VERSION"
  if all_present "$out" etcd; then return; fi
  log "building etcd $v"
  local work="$cache/src/etcd-$v"
  rm -rf "$work" && mkdir -p "$work"
  printf 'module studylab.io/testenv/etcd\n\ngo 1.24.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$v" >"$work/go.mod"
  mkdir -p "$out.tmp"
  (cd "$work" && go get "go.etcd.io/etcd/server/v3@$v" &&
    go build -trimpath -ldflags "-s -w" -o "$out.tmp/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$out" && mv "$out.tmp" "$out"
}

# --- kwok --------------------------------------------------------------------
build_kwok() {
  local v=$KWOK_VERSION out="$bin/kwok-$KWOK_VERSION"
  if all_present "$out" kwok; then return; fi
  log "building kwok $v"
  mkdir -p "$out.tmp"
  GOFLAGS= GOBIN="$out.tmp" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$v"
  rm -rf "$out" && mv "$out.tmp" "$out"
}

all_present() {
  local dir=$1; shift
  for f in "$@"; do [ -x "$dir/$f" ] || return 1; done
}

# etcd's dependencies, resolved at build time, need Go 1.26; GOTOOLCHAIN=local forbids a download.
need_go=1.26
have_go=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$need_go" "$have_go" | sort -V | head -n 1)" != "$need_go" ]; then
  log "Go >= $need_go is needed to build the control plane; this machine has $have_go"
  exit 1
fi

start=$(date +%s)
build_etcd
build_kwok
build_kubernetes
log "binaries ready in $bin ($(($(date +%s) - start)) s)"
