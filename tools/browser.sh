#!/usr/bin/env bash
# Debian's Chromium (and CJK fonts, so Korean pages render as people see them) for the browser
# tests; installed only where missing. Needs root (as on CI and the dev machines here).
set -euo pipefail
if command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "noto.*cjk"; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
