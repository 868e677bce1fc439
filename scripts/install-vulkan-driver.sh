#!/usr/bin/env bash
# Makes a Vulkan driver available to Dawn on a machine without a GPU: Mesa's lavapipe (software).
# On Debian 12 it comes from bookworm-backports (mesa-vulkan-drivers 25.x); bookworm's own 22.x
# lacks a Vulkan feature Dawn requires. Run as root on Debian/Ubuntu; elsewhere it says what to install.
#   bash scripts/install-vulkan-driver.sh          install if no adapter is found
#   bash scripts/install-vulkan-driver.sh --check  only report
set -euo pipefail

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

here=$(cd "$(dirname "$0")/.." && pwd)
adapter_ok() {
  # device-info exits non-zero when Dawn finds no adapter.
  [ -f "$here/dist/scripts/device-info.js" ] && node "$here/scripts/device-info.js" >/dev/null 2>&1
}

if adapter_ok; then
  echo "A WebGPU adapter is available: $(node "$here/scripts/device-info.js" 2>/dev/null | head -1)"
  exit 0
fi
[ "${1:-}" = "--check" ] && { echo "No WebGPU adapter found."; exit 1; }

manual() {
  cat >&2 <<'TXT'
No WebGPU adapter, and this script cannot install one here. Install a Vulkan driver and loader:
  - with a GPU: the vendor's Vulkan driver and libvulkan1 (the Vulkan loader)
  - without one: Mesa's lavapipe, version 23 or newer (Debian 12: mesa-vulkan-drivers from
    bookworm-backports; Ubuntu 24.04: mesa-vulkan-drivers), plus libvulkan1
TXT
  exit 1
}

[ "$(id -u)" = 0 ] || { echo "not root:" >&2; manual; }
command -v apt-get >/dev/null || manual
. /etc/os-release
export DEBIAN_FRONTEND=noninteractive
if [ "${ID:-}" = debian ] && [ "${VERSION_CODENAME:-}" = bookworm ]; then
  list=/etc/apt/sources.list.d/bookworm-backports.list
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo 'deb http://deb.debian.org/debian bookworm-backports main' > "$list"
  fi
  apt-get update -qq
  apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
else
  apt-get update -qq
  apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
fi
echo "installed: $(dpkg-query -W -f='${Package} ${Version}\n' mesa-vulkan-drivers libvulkan1 | tr '\n' ' ')"
if [ -f "$here/dist/scripts/device-info.js" ]; then
  adapter_ok || { echo "still no WebGPU adapter after installing lavapipe" >&2; exit 1; }
  echo "WebGPU adapter: $(node "$here/scripts/device-info.js" 2>/dev/null | head -1)"
fi
