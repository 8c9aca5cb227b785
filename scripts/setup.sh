#!/usr/bin/env bash
# Installs what inpage's build, tests and demo need on a Debian machine, only where it is missing:
# Debian's Chromium (the browser for e2e tests; its SwiftShader Vulkan driver also runs WebGPU in Node),
# the Vulkan loader, a C compiler and git (the tests build a few-line command around llama.cpp's own
# quantizer, test/reference/native/quantize.c, against the headers in node-llama-cpp's source bundle),
# and the npm packages from package-lock.json. Never downloads a browser itself.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -f /usr/lib/chromium/vk_swiftshader_icd.json ] || need+=(chromium)
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' || need+=(libvulkan1)
command -v cc >/dev/null || need+=(gcc libc6-dev)
command -v git >/dev/null || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
fi
