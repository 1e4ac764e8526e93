#!/usr/bin/env bash
# The certified export renders PDF with WeasyPrint, which loads Pango and HarfBuzz
# (with its subsetter) from the system: install Debian's packages when one is missing.
set -euo pipefail
if ! ldconfig -p | grep -q 'libharfbuzz-subset.so.0' || ! ldconfig -p | grep -q 'libpango-1.0.so.0'; then
  echo "ensure-weasyprint: installing Pango and HarfBuzz from Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 >/dev/null
fi
