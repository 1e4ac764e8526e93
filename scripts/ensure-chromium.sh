#!/usr/bin/env bash
# The browser tests (tests/ui) drive Debian's chromium through Playwright: never a
# browser download (`playwright install`), the distribution's package instead.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  echo "ensure-chromium: installing chromium from Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
