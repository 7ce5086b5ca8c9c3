#!/usr/bin/env bash
# A kind node image made offline, best effort, for `KIND_NODE_IMAGE=studylab/kind-node:<version> make
# kind-e2e` on machines that reach only the package registries. Like the base-image stand-ins, it exists
# only to test here; anywhere else, use kind's own node image.
#
# What kind's node image holds, and where this one takes it from:
#   - Debian bookworm with systemd, iptables, mount tools: debootstrap, from the mirror apt uses
#   - containerd, runc, CNI plugins: Debian's packages (containerd 1.6, where kind's image has 2.x)
#   - kind's own files (entrypoint, systemd units, containerd config): the sigs.k8s.io/kind module
#   - kubeadm, kubelet, kube-proxy: built from the same Kubernetes wrapper module as the local plane
#     (hack/testenv/build.sh); kubectl: the one on PATH, if static
#   - the images kubeadm starts (kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy,
#     etcd, pause) made from those binaries, tagged as kubeadm names them, and imported into the
#     node's containerd. The pod network is a static bridge CNI config (one node needs no more), in
#     place of kindnetd; CoreDNS and local-path-provisioner are not built.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=testenv/versions.env
. "$repo/hack/testenv/versions.env"
cache=${STUDYLAB_CACHE:-$HOME/.cache/studylab}
kind_version=${KIND_VERSION:-v0.30.0}
k8s=$KUBERNETES_VERSION
work_root=$cache/kind-node
tag=${KIND_NODE_IMAGE:-studylab/kind-node:$k8s}
bins=$cache/bin/kind-node-kubernetes-$k8s

say() { printf '[kind-node-image] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (debootstrap, chroot)"
docker info >/dev/null 2>&1 || die "no Docker engine answers (make docker-engine)"
if docker image inspect "$tag" >/dev/null 2>&1; then
  say "$tag is there"
  exit 0
fi
mkdir -p "$work_root"

# --- the node's root filesystem ---
rootfs_tar=$work_root/rootfs-bookworm.tar
if [[ ! -s $rootfs_tar ]]; then
  apt_mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE 'https?://[^[:space:]]+/debian/?([[:space:]]|$)' | head -n 1 | tr -d '[:space:]' || true)
  mirror=${STUDYLAB_DEBIAN_MIRROR:-${apt_mirror:-http://deb.debian.org/debian}}
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap </dev/null
  say "debootstrap bookworm with systemd, containerd, runc, CNI plugins from $mirror"
  t=$(mktemp -d "$work_root/rootfs.XXXXXX")
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,bash,ca-certificates,curl,jq,procps,containerd,runc,containernetworking-plugins,socat,ebtables,file \
    bookworm "$t/root" "$mirror" >"$work_root/debootstrap.log" 2>&1 || die "debootstrap failed: $work_root/debootstrap.log"
  rm -rf "$t/root"/var/lib/apt/lists/* "$t/root"/var/cache/apt/*
  tar -C "$t/root" --numeric-owner -cf "$rootfs_tar.tmp" . && mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$t"
fi

[[ ${1:-} != --rootfs-only ]] || exit 0

# --- pause: blocks until told to stop, as registry.k8s.io/pause does ---
if [[ ! -x $work_root/pause ]]; then
  p=$(mktemp -d)
  cat >"$p/main.go" <<'EOF'
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	<-c
}
EOF
  printf 'module pause\n\ngo 1.22\n' >"$p/go.mod"
  (cd "$p" && GOTOOLCHAIN=local CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work_root/pause" .)
  rm -rf "$p"
fi

# --- Kubernetes node binaries, from the plane's wrapper module ---
if [[ ! -x $bins/kubelet ]]; then
  "$repo/hack/testenv/build.sh" # the wrapper module and the module cache
  src=$cache/src/kubernetes-$k8s
  say "building kubeadm, kubelet, kube-proxy $k8s (CPU heavy, once)"
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$k8s -X $p.gitMajor=1 -X $p.gitMinor=$(cut -d. -f2 <<<"$k8s")"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  mkdir -p "$bins.tmp"
  (cd "$src" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
    -tags selinux,notest,grpcnotrace -ldflags "$ld" -o "$bins.tmp/" \
    k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)
  rm -rf "$bins" && mv "$bins.tmp" "$bins"
fi
kubectl_bin=$(readlink -f "$(command -v kubectl)")
file "$kubectl_bin" | grep -q 'statically linked' || die "kubectl on PATH ($kubectl_bin) is not static"

work=$(mktemp -d "$work_root/build.XXXXXX")
cleanup() {
  for m in proc sys dev; do umount -l "$work/root/$m" 2>/dev/null || true; done
  [[ -n ${containerd_pid:-} ]] && kill "$containerd_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
root=$work/root
mkdir -p "$root"
tar -C "$root" --numeric-owner -xf "$rootfs_tar"

# --- kind's files, as its base image Dockerfile places them ---
kind_src=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kind@$kind_version" | jq -r .Dir)
files=$kind_src/images/base/files
install -m 0755 "$files"/usr/local/bin/* "$root/usr/local/bin/"
mkdir -p "$root/kind/bin"
cp -r "$files/kind/." "$root/kind/"
chmod 0755 "$root"/kind/bin/*
cp "$files"/etc/crictl.yaml "$root/etc/"
mkdir -p "$root/etc/containerd" "$root/etc/default" "$root/etc/sysctl.d" "$root/etc/systemd/system/kubelet.service.d"
cp "$files"/etc/containerd/* "$root/etc/containerd/"
cp "$files"/etc/default/* "$root/etc/default/"
cp "$files"/etc/sysctl.d/* "$root/etc/sysctl.d/"
cp "$files"/etc/systemd/system/*.service "$files"/etc/systemd/system/*.slice "$root/etc/systemd/system/"
cp "$files"/etc/systemd/system/kubelet.service.d/* "$root/etc/systemd/system/kubelet.service.d/"
# Debian puts containerd, ctr and the shim in /usr/bin, runc in /usr/sbin, CNI plugins in /usr/lib/cni;
# kind's units and config look in /usr/local and /opt/cni/bin.
for b in containerd ctr containerd-shim-runc-v2; do ln -sf "/usr/bin/$b" "$root/usr/local/bin/$b"; done
mkdir -p "$root/opt/cni"
ln -s /usr/lib/cni "$root/opt/cni/bin"
install -m 0755 "$bins/kubeadm" "$bins/kubelet" "$root/usr/bin/"
# The node's containerd finds runc on PATH: this wrapper first, for machines whose root lacks a
# capability (see hack/kind/runc-bounded); it changes nothing where every capability is there.
install -m 0755 "$repo/hack/kind/runc-bounded" "$root/usr/local/sbin/runc"
install -m 0755 "$kubectl_bin" "$root/usr/bin/kubectl"
chroot "$root" /bin/bash -euc '
  find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
  rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
    /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
    /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
  echo ReadKMsg=no >>/etc/systemd/journald.conf
  ln -sf "$(command -v systemd)" /sbin/init
  systemctl enable kubelet.service containerd.service undo-mount-hacks.service
  systemctl mask systemd-binfmt.service
  mkdir -p /etc/kubernetes/manifests
  ctr oci spec \
    | jq ".hooks.createContainer[.hooks.createContainer | length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}" \
    | jq "del(.process.rlimits)" >/etc/containerd/cri-base.json
'
echo "$k8s" >"$root/kind/version"
mkdir -p "$root/kind/manifests" "$root/etc/cni/net.d"
# One node: a bridge with host-local addresses from the node's pod range is the whole pod network.
cat >"$root/etc/cni/net.d/10-studylab-bridge.conflist" <<'EOF'
{
  "cniVersion": "0.4.0",
  "name": "studylab-bridge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.244.0.0/24" }]], "routes": [{ "dst": "0.0.0.0/0" }] }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
cat >"$root/kind/manifests/default-cni.yaml" <<'EOF'
# The pod network of this offline node image is /etc/cni/net.d/10-studylab-bridge.conflist (one node).
apiVersion: v1
kind: ConfigMap
metadata:
  name: studylab-offline-cni
  namespace: kube-system
data:
  cni: static bridge, see /etc/cni/net.d on the node
EOF

# --- the images kubeadm starts ---
images=$("$bins/kubeadm" config images list --kubernetes-version "$k8s" 2>/dev/null)
say "images kubeadm wants: $(tr '\n' ' ' <<<"$images")"
imgdir=$work/images
mkdir -p "$imgdir"
one_binary_image() { # ref binary-path [name in image]
  local d
  d=$(mktemp -d "$work/img.XXXXXX")
  mkdir -p "$d/usr/local/bin" "$d/etc" "$d/tmp" "$d/var/run"
  install -m 0755 "$2" "$d/usr/local/bin/${3:-$(basename "$2")}"
  printf 'root:x:0:0:root:/root:/sbin/nologin\n' >"$d/etc/passwd"
  chmod 1777 "$d/tmp"
  # An entrypoint, as the pause image needs one: kubeadm's static pods name their command themselves.
  tar -C "$d" --numeric-owner -cf - . | docker import \
    --change "ENV PATH=/usr/local/bin:/usr/bin:/bin" --change "LABEL io.studylab.stand-in=kind-node" \
    --change "ENTRYPOINT [\"/usr/local/bin/${3:-$(basename "$2")}\"]" - "$1" >/dev/null
  rm -rf "$d"
}
refs=()
for ref in $images; do
  case $ref in
    */kube-apiserver:* | */kube-controller-manager:* | */kube-scheduler:*)
      c=${ref##*/}
      one_binary_image "$ref" "$cache/bin/kubernetes-$k8s/${c%%:*}"
      ;;
    */etcd:*) one_binary_image "$ref" "$cache/bin/etcd-$ETCD_VERSION/etcd" ;;
    */pause:*)
      one_binary_image "$ref" "$work_root/pause"
      docker image tag "$ref" registry.k8s.io/pause:3.10 # the sandbox image kind's containerd config names
      refs+=(registry.k8s.io/pause:3.10)
      ;;
    */kube-proxy:*)
      # kube-proxy runs iptables: it gets the node's own Debian userland.
      cp "$bins/kube-proxy" "$root/usr/local/bin/kube-proxy"
      tar -C "$root" --numeric-owner -cf - . | docker import \
        --change "LABEL io.studylab.stand-in=kind-node" - "$ref" >/dev/null
      rm "$root/usr/local/bin/kube-proxy"
      ;;
    *)
      say "not built: $ref"
      continue
      ;;
  esac
  refs+=("$ref")
done
docker save "${refs[@]}" -o "$imgdir/images.tar"

# --- imported into the node's containerd: run it chrooted, import, stop ---
for m in proc sys dev; do mount --rbind "/$m" "$root/$m"; done
cat >"$work/containerd.toml" <<'EOF'
version = 2
root = "/var/lib/containerd"
state = "/run/containerd-import"
[grpc]
  address = "/run/containerd-import/containerd.sock"
EOF
cp "$work/containerd.toml" "$root/tmp/containerd-import.toml"
cp "$imgdir/images.tar" "$root/tmp/images.tar"
chroot "$root" /usr/bin/containerd --config /tmp/containerd-import.toml >"$work/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 1 120); do
  chroot "$root" ctr --address /run/containerd-import/containerd.sock version >/dev/null 2>&1 && break
  sleep 0.5
done
chroot "$root" ctr --address /run/containerd-import/containerd.sock -n k8s.io images import \
  --all-platforms --no-unpack --digests /tmp/images.tar
chroot "$root" ctr --address /run/containerd-import/containerd.sock -n k8s.io images ls -q
kill "$containerd_pid" && wait "$containerd_pid" 2>/dev/null || true
containerd_pid=
for m in proc sys dev; do umount -l "$root/$m"; done
rm -rf "$root/tmp/images.tar" "$root/tmp/containerd-import.toml" "$root/run/containerd-import"

say "importing $tag"
tar -C "$root" --numeric-owner -cf - . | docker import \
  --change 'ENV container=docker' \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
  --change "LABEL io.studylab.stand-in=kind-node" \
  - "$tag" >/dev/null
say "done: $tag ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%d MB", $1/1e6}'))"
