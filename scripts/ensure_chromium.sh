#!/usr/bin/env bash
# Chromium for tests/test_collector_browser.py (Playwright drives Debian's /usr/bin/chromium; `playwright
# install` is never used: it downloads at run time). `make test` runs this before pytest. Idempotent and
# quiet: nothing happens when Chromium is there; as root it installs Debian's package; otherwise it says how
# (the browser tests then skip, or fail under OPENIDV_REQUIRE_SERVICES=1).
set -euo pipefail
CHROMIUM=${OPENIDV_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: $CHROMIUM is missing; install it with: sudo apt-get install -y chromium" >&2
  exit 0
fi
echo "ensure_chromium: installing Debian's chromium (for the collector's browser test)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium >/dev/null
[ -x "$CHROMIUM" ] || { echo "ensure_chromium: apt-get installed chromium, but $CHROMIUM is still missing" >&2; exit 1; }
