#!/usr/bin/env bash
# Makes sure a Docker engine answers, for `make test-image` and `make kind-e2e`.
#
#   hack/docker-engine.sh          an engine answers: nothing to do. Otherwise, as root on Debian:
#                                  install docker.io from Debian's packages, start dockerd in the
#                                  background, wait until `docker info` answers. Anywhere else:
#                                  say what is missing and exit 1.
#   hack/docker-engine.sh --check  only report whether an engine answers (exit 0 or 1).
#
# dockerd runs with --iptables=false --bridge=none: it changes no firewall rule and creates no
# bridge on the host, so containers have the host's network (--network=host) or none. That is all
# the image build (npm ci over the host's network) and the image tests (the operator talks to the
# local plane on 127.0.0.1) need. CI calls this from .ci/run, as root, with no stdin.
set -euo pipefail

state=${STUDYLAB_DOCKERD_STATE:-${STUDYLAB_CACHE:-$HOME/.cache/studylab}/dockerd}
log_file=$state/dockerd.log
pid_file=$state/dockerd.pid
# dockerd comes up in seconds; the deadline only bounds a start that will never succeed.
deadline_s=${STUDYLAB_DOCKERD_DEADLINE:-90}

say() { printf '[docker-engine] %s\n' "$*" >&2; }
answers() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }

if answers; then
  say "a Docker engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi
if [[ ${1:-} == --check ]]; then
  say "no Docker engine answers"
  exit 1
fi

missing=()
[[ $(id -u) == 0 ]] || missing+=("root (to install docker.io and start dockerd)")
[[ -r /etc/debian_version ]] && command -v apt-get >/dev/null || missing+=("a Debian system with apt-get")
if ((${#missing[@]})); then
  say "no Docker engine answers, and this script can only set one up with: ${missing[*]}."
  say "Start a Docker engine yourself (https://docs.docker.com/engine/install/), make \`docker info\` work, and run again."
  exit 1
fi

if ! command -v dockerd >/dev/null; then
  say "installing docker.io from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt_install() {
    apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold docker.io </dev/null
  }
  # The package lists may be missing or stale (a fresh machine, a CI image): update once and retry.
  if ! apt_install; then
    apt-get update -q </dev/null
    apt_install
  fi
fi
command -v dockerd >/dev/null || { say "dockerd is still not on PATH after installing docker.io"; exit 1; }

mkdir -p "$state"
running_pid() {
  local pid
  pid=$(cat "$pid_file" 2>/dev/null) || return 1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}
if pid=$(running_pid); then
  say "dockerd (pid $pid) is already starting; waiting for it"
else
  args=(--iptables=false --bridge=none --pidfile "$pid_file")
  # Where root lacks a capability (a VM without CAP_SYS_RESOURCE), runc refuses every privileged
  # container, and kind's nodes are privileged: run containers through a runc that asks only for what
  # there is. A copy in the state directory, so dockerd does not depend on this checkout.
  bnd=$(awk '/^CapBnd/ {print $2}' /proc/self/status)
  all=$(((1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1))
  if (((0x$bnd & all) != all)); then
    install -m 0755 "$(dirname "$0")/kind/runc-bounded" "$state/runc-bounded"
    args+=(--add-runtime "runc-bounded=$state/runc-bounded" --default-runtime runc-bounded)
    say "root's capability bounding set ($bnd) lacks some: runc-bounded is the default runtime"
  fi
  say "starting dockerd in the background (log: $log_file)"
  # setsid: dockerd outlives this script and the make that ran it, and a Ctrl-C in that terminal
  # does not reach it. dockerd writes its own pid file once it runs.
  setsid dockerd "${args[@]}" </dev/null >>"$log_file" 2>&1 &
  launched=$!
fi

end=$((SECONDS + deadline_s))
until answers; do
  if [[ -n ${launched:-} ]] && ! kill -0 "$launched" 2>/dev/null; then
    say "dockerd exited while starting; the end of $log_file:"
    tail -n 20 "$log_file" >&2
    exit 1
  fi
  if ((SECONDS >= end)); then
    say "dockerd did not answer within ${deadline_s}s; the end of $log_file:"
    tail -n 20 "$log_file" >&2
    exit 1
  fi
  sleep 0.5
done
say "a Docker engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')); dockerd pid $(cat "$pid_file" 2>/dev/null || echo '?'), log $log_file"
