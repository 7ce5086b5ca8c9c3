#!/usr/bin/env bash
# The kind path, for machines with a Docker engine (CI elsewhere, a laptop):
#   make kind-e2e    create (or reuse) a kind cluster, build and load the operator image,
#                    apply deploy/, wait for the rollout, prove the in-cluster operator makes a
#                    sample Ready, then run the same e2e suites as the local plane does, through
#                    STUDYLAB_KUBECONFIG.
#   make kind-down   delete the cluster.
#
# kind itself is built from the Go module proxy at a pinned version into ~/.cache/studylab/bin (set
# KIND to use another binary). The node image is kind's default (pulled from Docker Hub by kind), or
# KIND_NODE_IMAGE, which must then exist locally (for an image made offline; see README, "Run it on
# kind"). STUDYLAB_OFFLINE=1 refuses anything that would pull.
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
kind_version=${KIND_VERSION:-v0.30.0} # its default node image is Kubernetes v1.34, the plane's minor
kind_bin=${KIND:-$cache/bin/kind-$kind_version/kind}
node_image=${KIND_NODE_IMAGE:-}
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
kind() { "$kind_bin" "$@"; }

ensure_kind() {
  [[ -x $kind_bin ]] && return
  need go
  log "building kind $kind_version from the Go module proxy into $(dirname "$kind_bin")"
  mkdir -p "$(dirname "$kind_bin")"
  GOBIN=$(dirname "$kind_bin") CGO_ENABLED=0 go install "sigs.k8s.io/kind@$kind_version"
}

# Offline, nothing may be pulled: CoreDNS (not in an offline node image) is scaled to 0, since the
# operator needs no DNS and its pulls would leave the machine; the app image of the smoke test's sample
# gets a stand-in (an HTTP server on 8080 on the distroless stand-in), loaded under its name.
offline_workloads() {
  k -n kube-system scale deployment/coredns --replicas=0
  local app=nginxinc/nginx-unprivileged:1.27 ctx
  if ! docker image inspect "$app" >/dev/null 2>&1; then
    log "building a stand-in for $app (only to test offline)"
    "$repo/hack/stand-in-bases.sh"
    ctx=$(mktemp -d)
    cat >"$ctx/server.js" <<'JS'
// A stand-in for nginx-unprivileged, only to test offline: answers 200 on port 8080.
const server = require('node:http')
  .createServer((_req, res) => res.end('stand-in\n'))
  .listen(8080);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
JS
    printf '%s\n' 'FROM gcr.io/distroless/nodejs22-debian12:nonroot' 'COPY server.js /server.js' \
      'LABEL io.studylab.stand-in=app' 'USER 101:101' 'EXPOSE 8080' \
      'ENTRYPOINT ["/nodejs/bin/node", "/server.js"]' >"$ctx/Dockerfile"
    DOCKER_BUILDKIT=0 docker build -q -t "$app" "$ctx" >/dev/null
    rm -rf "$ctx"
  fi
  kind load docker-image "$app" --name "$cluster"
}

down() {
  ensure_kind
  kind delete cluster --name "$cluster"
  rm -f "$kubeconfig"
}

e2e() {
  need docker kubectl npm
  docker info >/dev/null 2>&1 || { log "no Docker engine answers: kind needs one (make docker-engine)"; exit 1; }
  ensure_kind
  mkdir -p "$(dirname "$kubeconfig")"
  local image_flag=()
  if [[ -n $node_image ]]; then
    docker image inspect "$node_image" >/dev/null 2>&1 ||
      { log "KIND_NODE_IMAGE=$node_image does not exist locally"; exit 1; }
    image_flag=(--image "$node_image")
  elif [[ ${STUDYLAB_OFFLINE:-} == 1 ]]; then
    log "kind $kind_version would pull its default node image (kindest/node) from Docker Hub, and"
    log "STUDYLAB_OFFLINE=1 forbids that: set KIND_NODE_IMAGE to a node image that exists locally."
    exit 1
  fi
  if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    log "reusing kind cluster $cluster"
    kind export kubeconfig --name "$cluster" --kubeconfig "$kubeconfig"
  else
    kind create cluster --name "$cluster" --kubeconfig "$kubeconfig" --wait 180s "${image_flag[@]}"
  fi

  [[ ${STUDYLAB_OFFLINE:-} != 1 ]] || offline_workloads

  log "building $image"
  "$repo/hack/build-image.sh" "$image"
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
