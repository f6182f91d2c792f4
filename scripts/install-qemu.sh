#!/bin/sh
# Installs from Debian's packages what the boot tests need beyond Go, git
# and make: QEMU, and GRUB's BIOS files and mtools, which the GRUB boot
# test (boot/boottest/grub_test.go, boot/grubimage) uses to make a disk
# image. Installs only what is missing; does nothing when all is present.
# Uses sudo when not root.
set -e
qemu= grub=
command -v qemu-system-x86_64 >/dev/null 2>&1 || qemu="qemu-system-x86 qemu-utils"
command -v grub-mkimage >/dev/null 2>&1 || grub="grub-common"
[ -f /usr/lib/grub/i386-pc/boot.img ] && [ -f /usr/lib/grub/i386-pc/multiboot2.mod ] || grub="$grub grub-pc-bin"
for t in mformat mmd mcopy; do
	command -v $t >/dev/null 2>&1 || { grub="$grub mtools"; break; }
done
[ -n "$qemu$grub" ] || exit 0

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "gosv: installing from Debian:" $qemu $grub >&2
$SUDO apt-get update -qq
if [ -n "$qemu" ]; then
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $qemu >/dev/null
fi
if [ -n "$grub" ]; then
	# Only the files: no os-prober, and grub-pc-bin (unlike grub-pc)
	# never touches this machine's boot loader.
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $grub >/dev/null
fi
