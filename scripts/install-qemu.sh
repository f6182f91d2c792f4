#!/bin/sh
# Installs QEMU from Debian's packages (the only dependency beyond Go,
# git and make). Uses sudo when not root.
set -e
if command -v qemu-system-x86_64 >/dev/null 2>&1; then exit 0; fi
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "gosv: installing QEMU (qemu-system-x86, qemu-utils) from Debian" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq qemu-system-x86 qemu-utils >/dev/null
