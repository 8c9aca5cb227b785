#!/usr/bin/env bash
# The one command that runs the demo on a fresh Debian machine: setup, build, serve on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run demo
