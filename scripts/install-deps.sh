#!/bin/sh
# Installs from Debian's packages what the boot tests need beyond Go, git
# and make: QEMU; GRUB's BIOS files and mtools, which the GRUB boot
# test (boot/boottest/grub_test.go, boot/grubimage) uses to make a disk
# image; and the compilers and programs the application tests run inside
# gosv (musl-gcc from musl-tools, static glibc from libc6-dev, and
# busybox-static), and for the network tests and benchmarks iproute2
# (network namespaces, tap devices), dnsmasq-base (a DHCP server in the
# test's namespace) and wrk (HTTP load). Installs only what is missing; does nothing when all
# is present. Uses sudo when not root.
set -e
qemu= grub= apps=
command -v musl-gcc >/dev/null 2>&1 || apps="musl-tools"
command -v gcc >/dev/null 2>&1 || apps="$apps gcc"
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || apps="$apps libc6-dev"
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx sha256sum && ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' || apps="$apps busybox-static"
command -v qemu-system-x86_64 >/dev/null 2>&1 || qemu="qemu-system-x86 qemu-utils"
command -v ip >/dev/null 2>&1 || apps="$apps iproute2"
command -v dnsmasq >/dev/null 2>&1 || apps="$apps dnsmasq-base"
command -v wrk >/dev/null 2>&1 || apps="$apps wrk"
command -v grub-mkimage >/dev/null 2>&1 || grub="grub-common"
[ -f /usr/lib/grub/i386-pc/boot.img ] && [ -f /usr/lib/grub/i386-pc/multiboot2.mod ] || grub="$grub grub-pc-bin"
for t in mformat mmd mcopy; do
	command -v $t >/dev/null 2>&1 || { grub="$grub mtools"; break; }
done
[ -n "$qemu$grub$apps" ] || exit 0

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "gosv: installing from Debian:" $qemu $grub $apps >&2
$SUDO apt-get update -qq
if [ -n "$qemu" ]; then
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $qemu >/dev/null
fi
if [ -n "$grub" ]; then
	# Only the files: no os-prober, and grub-pc-bin (unlike grub-pc)
	# never touches this machine's boot loader.
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $grub >/dev/null
fi
if [ -n "$apps" ]; then
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $apps >/dev/null
fi
