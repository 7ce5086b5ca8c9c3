#!/usr/bin/env bash
# The kind path, for machines with a Docker engine (CI elsewhere, a laptop):
#   make kind-e2e    create (or reuse) a kind cluster, build and load the operator image,
#                    apply deploy/, wait for the rollout, prove the in-cluster operator makes a
#                    sample Ready, then run the same e2e suites as the local plane does, through
#                    STUDYLAB_KUBECONFIG.
#   make kind-down   delete the cluster.
#
# The e2e suites run their own operator process with the shipped ServiceAccount's token, and
# count that process's requests; so the in-cluster replicas are scaled to 0 while they run and
# scaled back afterwards, rather than having two operators share the work.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cluster=${KIND_CLUSTER:-studylab}
# The image deploy/ names (deploy/base/kustomization.yaml's `images:`), with imagePullPolicy
# IfNotPresent: built and loaded under that name, it is used as it is and deploy/ needs no overlay.
image=$(kubectl kustomize "$repo/deploy" | sed -n 's/^ *image: \(.*studylab-operator.*\)$/\1/p' | head -n 1)
cache=${STUDYLAB_CACHE:-$HOME/.cache/studylab}
kubeconfig=${KIND_KUBECONFIG:-$cache/kind-$cluster.kubeconfig}
ns=studylab-system
smoke_ns=studylab-kind-smoke

log() { printf '[kind] %s\n' "$*" >&2; }
need() {
  for c in "$@"; do
    command -v "$c" >/dev/null || { log "$c is required (https://kind.sigs.k8s.io/docs/user/quick-start/)"; exit 1; }
  done
}
k() { kubectl --kubeconfig "$kubeconfig" "$@"; }

down() {
  need kind
  kind delete cluster --name "$cluster"
  rm -f "$kubeconfig"
}

e2e() {
  need docker kind kubectl npm
  docker info >/dev/null 2>&1 || { log "no Docker engine answers: kind needs one"; exit 1; }
  mkdir -p "$(dirname "$kubeconfig")"
  if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    log "reusing kind cluster $cluster"
    kind export kubeconfig --name "$cluster" --kubeconfig "$kubeconfig"
  else
    kind create cluster --name "$cluster" --kubeconfig "$kubeconfig" --wait 180s
  fi

  log "building $image"
  docker build -t "$image" "$repo"
  kind load docker-image "$image" --name "$cluster"

  log "applying deploy/"
  k apply --server-side --force-conflicts -k "$repo/deploy"
  k wait --for=condition=Established --timeout=60s crd/studylabs.studylab.io
  # A rebuilt image under the same tag needs new pods to be picked up.
  k -n "$ns" rollout restart deployment/studylab-operator
  k -n "$ns" rollout status deployment/studylab-operator --timeout=180s

  log "smoke test: the in-cluster operator makes samples/01-clusterip.yaml Ready"
  k create namespace "$smoke_ns" --dry-run=client -o yaml | k apply -f -
  k -n "$smoke_ns" apply -f "$repo/samples/01-clusterip.yaml"
  if ! k -n "$smoke_ns" wait --for=jsonpath='{.status.phase}'=Ready slab/clusterip --timeout=180s; then
    k -n "$smoke_ns" get slab,deploy,pods -o wide || true
    k -n "$ns" logs deployment/studylab-operator --tail=50 || true
    exit 1
  fi
  k delete namespace "$smoke_ns" --wait=false

  log "running the e2e suites against kind (the in-cluster operator scaled to 0 meanwhile)"
  k -n "$ns" scale deployment/studylab-operator --replicas=0
  k -n "$ns" wait --for=delete pod -l app.kubernetes.io/name=studylab-operator --timeout=60s || true
  status=0
  (cd "$repo" && STUDYLAB_KUBECONFIG="$kubeconfig" npm run --silent test:e2e) || status=$?
  k -n "$ns" scale deployment/studylab-operator --replicas=2
  return "$status"
}

case "${1:-}" in
  e2e) e2e ;;
  down) down ;;
  *) echo "usage: $0 e2e|down" >&2; exit 2 ;;
esac
