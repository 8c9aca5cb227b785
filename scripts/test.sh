#!/usr/bin/env bash
# The one command that passes the tests on a fresh Debian machine: setup, then `npm test`
# (typecheck, vitest in Node on Dawn + SwiftShader, library build, Playwright in Debian's Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm test
