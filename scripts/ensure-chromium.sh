#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (tests/browser drive /usr/bin/chromium
# through Playwright's executable_path; Playwright's own browser download cannot reach the internet here).
# Installs `chromium` (and `chromium-driver`, for anyone driving it with Selenium) from Debian's packages.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "Chromium is installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi
echo "Chromium is not installed; installing chromium from Debian's packages" >&2
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
if [ ! -x /usr/bin/chromium ]; then
  echo "ERROR: /usr/bin/chromium is still missing; the browser tests (tests/browser) cannot run." >&2
  exit 1
fi
