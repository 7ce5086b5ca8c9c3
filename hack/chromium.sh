#!/usr/bin/env bash
# Finds the headless Chromium the browser test drives (test/browser/), or installs Debian's package.
# Installs only as root on Debian; anywhere else it fails, saying what to install: the browser test
# must never be skipped silently.
set -euo pipefail

CHROMIUM="${STUDYLAB_CHROMIUM:-/usr/bin/chromium}"
if [[ -x "$CHROMIUM" ]]; then
  exit 0
fi
if [[ -n "${STUDYLAB_CHROMIUM:-}" ]]; then
  echo "hack/chromium.sh: STUDYLAB_CHROMIUM=$CHROMIUM is not an executable" >&2
  exit 1
fi
if [[ "$(id -u)" -eq 0 && -f /etc/debian_version ]] && command -v apt-get >/dev/null; then
  echo "hack/chromium.sh: installing Debian's chromium package for the browser test" >&2
  export DEBIAN_FRONTEND=noninteractive
  # A fresh container has no package lists yet; update only then, or when the install fails.
  apt-get install -y --no-install-recommends chromium || { apt-get update && apt-get install -y --no-install-recommends chromium; }
  exit 0
fi
cat >&2 <<MSG
hack/chromium.sh: the browser test needs a headless Chromium at $CHROMIUM, and none is there.
Install one, e.g. on Debian or Ubuntu: sudo apt-get install chromium (or chromium-browser),
on Fedora: sudo dnf install chromium, on macOS: brew install --cask chromium;
or point STUDYLAB_CHROMIUM at a Chromium or Chrome executable.
MSG
exit 1
