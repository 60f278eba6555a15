#!/bin/sh
# Rebuilds pystator/ui/static/vendor (the web UI's CodeMirror bundle and elkjs) from the exact
# package versions in ui-vendor/package-lock.json. Needs Node.js 20+ and npm; only people who
# change the vendored components run it. Installing or running PyStator never needs Node.
set -eu
cd "$(dirname "$0")/../ui-vendor"
npm ci --no-audit --no-fund
node build.mjs
