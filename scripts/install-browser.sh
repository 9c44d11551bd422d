#!/usr/bin/env bash
# Debian's chromium for the browser tests. Installed where we can (root, as in CI); otherwise the
# browser tests skip with a notice, except under CI=true where a missing browser fails them.
set -u
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian chromium for the browser tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium fonts-dejavu-core >/dev/null && exit 0
  echo "apt-get could not install chromium" >&2
else
  echo "notice: Debian chromium is not installed and this is not root: browser tests will be skipped." >&2
  echo "        install it with: sudo apt-get install chromium" >&2
fi
exit 0
