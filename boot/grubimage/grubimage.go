// Package grubimage makes a BIOS-bootable raw disk image that boots a gosv
// kernel through GRUB 2's multiboot2 command, without root, loop devices
// or a partitioning tool:
//
//	sector 0         MBR: GRUB's boot.img code, a disk signature and a
//	                 partition table written here
//	sectors 1..2047  core.img from grub-mkimage (biosdisk, part_msdos, fat,
//	                 multiboot2, normal, serial, configfile), whose prefix
//	                 is (hd0,msdos1)/boot/grub
//	sector 2048...   partition 1, FAT (mtools): /boot/gosv.elf and
//	                 /boot/grub/grub.cfg
//
// This is the layout grub-install gives an MBR disk, core.img embedded in
// the gap before the first partition; the patches grub-bios-setup applies
// (util/setup.c) are applied by Go code here. The image is also what
// shipping gosv as a raw disk (or an AMI) needs.
//
// Build needs grub-mkimage and GRUB's i386-pc files (Debian packages
// grub-common and grub-pc-bin) and mtools; Check reports which is missing.
package grubimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"gosv/boot/kimage"
)

// Disk layout.
const (
	SectorSize     = 512
	PartitionStart = 2048 // LBA of partition 1: 1 MiB, the usual alignment

	// MaxCoreSectors is how much core.img fits between the MBR and the
	// partition.
	MaxCoreSectors = PartitionStart - 1

	// minPartition keeps the FAT file system FAT16 with room to spare.
	minPartition = 16 << 20

	// DiskID is the MBR disk signature ("gosv" little endian), fixed so
	// that images are reproducible.
	DiskID = 0x76736f67
	// volumeSerial is the FAT volume serial number, for the same reason.
	volumeSerial = "676f7376"
)

// Prefix is GRUB's $prefix: where core.img finds grub.cfg.
const Prefix = "(hd0,msdos1)/boot/grub"

// Modules are built into core.img. Their dependencies (boot, terminal,
// fshelp...) come along; nothing is loaded from the disk at run time.
var Modules = []string{"biosdisk", "part_msdos", "fat", "multiboot2", "normal", "serial", "configfile"}

// ModuleDir holds GRUB's i386-pc modules, boot.img and diskboot.img
// (Debian: grub-pc-bin).
var ModuleDir = "/usr/lib/grub/i386-pc"

// Offsets in boot.img (grub-core/boot/i386/pc/boot.S, include/grub/i386/pc/boot.h).
const (
	bootKernelSector = 0x5c  // GRUB_BOOT_MACHINE_KERNEL_SECTOR: LBA of core.img, 64 bits
	bootDrive        = 0x64  // GRUB_BOOT_MACHINE_BOOT_DRIVE: 0xff = use the BIOS's %dl
	bootDriveCheck   = 0x66  // GRUB_BOOT_MACHINE_DRIVE_CHECK: a 2-byte jmp
	bootCodeEnd      = 0x1b8 // GRUB_BOOT_MACHINE_WINDOWS_NT_MAGIC: code ends here
	partTable        = 0x1be // GRUB_BOOT_MACHINE_PART_START
	signature        = 0x1fe // 0x55, 0xaa
)

// Offsets in core.img's first sector, diskboot.img (grub-core/boot/i386/pc/diskboot.S):
// block lists of 12 bytes (start LBA 64 bits, sectors 16, segment 16) grow
// down from the end of the sector; a zero length ends the list.
const (
	blocklistSize  = 12
	firstBlocklist = SectorSize - blocklistSize
	coreSegment    = 0x820 // GRUB_BOOT_I386_PC_KERNEL_SEG + 512>>4
)

// MissingToolError says which program or file Build needs and which
// Debian package provides it.
type MissingToolError struct {
	Tool    string // program or file
	Package string // Debian package
}

func (e *MissingToolError) Error() string {
	return fmt.Sprintf("grubimage: %s not found (on Debian: apt-get install %s)", e.Tool, e.Package)
}

// Check reports the first tool Build needs that is missing, as a
// *MissingToolError, or nil.
func Check() error {
	for _, t := range []MissingToolError{
		{"grub-mkimage", "grub-common"},
		{"mformat", "mtools"},
		{"mmd", "mtools"},
		{"mcopy", "mtools"},
	} {
		if _, err := exec.LookPath(t.Tool); err != nil {
			return &t
		}
	}
	for _, f := range []string{"boot.img", "diskboot.img", "kernel.img", "moddep.lst", "multiboot2.mod"} {
		p := filepath.Join(ModuleDir, f)
		if _, err := os.Stat(p); err != nil {
			return &MissingToolError{Tool: p, Package: "grub-pc-bin"}
		}
	}
	return nil
}

// Config is the grub.cfg Build writes: serial console at 115200 baud, no
// menu delay, one entry booting /boot/gosv.elf with cmdline. Each word of
// cmdline is quoted so GRUB passes it on unchanged (no $ expansion).
func Config(cmdline string) string {
	line := "multiboot2 /boot/gosv.elf"
	for _, w := range strings.Fields(cmdline) {
		line += " " + quote(w)
	}
	return "serial --unit=0 --speed=115200\n" +
		"terminal_input serial\n" +
		"terminal_output serial\n" +
		"set timeout=0\n" +
		"menuentry gosv {\n" +
		"\t" + line + "\n" +
		"\tboot\n" +
		"}\n"
}

// quote returns w as a GRUB script word: bare if it holds only safe
// characters, else single-quoted (GRUB's quoting follows the shell's).
func quote(w string) string {
	safe := true
	for _, c := range w {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_=.,:/+@%", c)) {
			safe = false
			break
		}
	}
	if safe {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

// Partition is an MBR partition table entry.
type Partition struct {
	Bootable bool
	Type     byte   // such as 0x0e, FAT16 with LBA
	Start    uint32 // first sector (LBA)
	Sectors  uint32 // length in sectors
}

// MBR returns sector 0 of the disk: boot.img's code, patched as
// grub-bios-setup patches it for a hard disk whose core.img starts at
// sector coreLBA, followed by the disk signature, the partition table and
// the boot signature.
func MBR(bootImg []byte, coreLBA uint64, diskID uint32, parts []Partition) ([]byte, error) {
	if len(bootImg) != SectorSize {
		return nil, fmt.Errorf("grubimage: boot.img is %d bytes, want %d", len(bootImg), SectorSize)
	}
	if len(parts) > 4 {
		return nil, fmt.Errorf("grubimage: %d partitions, an MBR holds 4", len(parts))
	}
	// The drive check is patched out below; make sure it is the jmp
	// grub-bios-setup expects, so a changed boot.img is noticed.
	if bootImg[bootDriveCheck] != 0xeb || bootImg[signature] != 0x55 || bootImg[signature+1] != 0xaa {
		return nil, errors.New("grubimage: boot.img does not have the layout of GRUB 2's i386-pc boot.img")
	}
	mbr := make([]byte, SectorSize)
	copy(mbr, bootImg[:bootCodeEnd])
	binary.LittleEndian.PutUint64(mbr[bootKernelSector:], coreLBA)
	mbr[bootDrive] = 0xff // boot from the drive the BIOS says (%dl)
	// A hard disk: replace the jmp that skips the %dl sanity check with
	// two NOPs, so a BIOS passing a floppy number gets 0x80.
	mbr[bootDriveCheck], mbr[bootDriveCheck+1] = 0x90, 0x90

	binary.LittleEndian.PutUint32(mbr[bootCodeEnd:], diskID)
	for i, p := range parts {
		e := mbr[partTable+16*i : partTable+16*(i+1)]
		if p.Bootable {
			e[0] = 0x80
		}
		if p.Sectors == 0 || uint64(p.Start)+uint64(p.Sectors) > 1<<32 {
			return nil, fmt.Errorf("grubimage: partition %d: bad extent %d+%d", i+1, p.Start, p.Sectors)
		}
		copy(e[1:4], chs(p.Start))
		e[4] = p.Type
		copy(e[5:8], chs(p.Start+p.Sectors-1))
		binary.LittleEndian.PutUint32(e[8:], p.Start)
		binary.LittleEndian.PutUint32(e[12:], p.Sectors)
	}
	mbr[signature], mbr[signature+1] = 0x55, 0xaa
	return mbr, nil
}

// chs encodes lba as a cylinder/head/sector triple for 255 heads and 63
// sectors per track, the geometry fdisk assumes; beyond 1024 cylinders
// it is the conventional "too big" 1023/254/63.
func chs(lba uint32) []byte {
	const heads, sectors = 255, 63
	c := lba / (heads * sectors)
	h := lba / sectors % heads
	s := lba%sectors + 1
	if c > 1023 {
		c, h, s = 1023, 254, 63
	}
	return []byte{byte(h), byte(s) | byte(c>>8)<<6, byte(c)}
}

// PatchCore sets core.img's first block list, in its first sector
// (diskboot.img), to load the rest of core.img from the sectors that
// follow coreLBA, and returns the image padded to whole sectors.
func PatchCore(core []byte, coreLBA uint64) ([]byte, error) {
	n := (len(core) + SectorSize - 1) / SectorSize
	switch {
	case n < 2:
		return nil, fmt.Errorf("grubimage: core.img is only %d bytes", len(core))
	case n > MaxCoreSectors:
		return nil, fmt.Errorf("grubimage: core.img is %d sectors, only %d fit before the partition", n, MaxCoreSectors)
	}
	le := binary.LittleEndian
	if seg := le.Uint16(core[firstBlocklist+10:]); seg != coreSegment {
		return nil, fmt.Errorf("grubimage: core.img's block list has segment %#x, want %#x: not an i386-pc diskboot core", seg, coreSegment)
	}
	out := make([]byte, n*SectorSize)
	copy(out, core)
	b := out[firstBlocklist:]
	le.PutUint64(b[0:], coreLBA+1)
	le.PutUint16(b[8:], uint16(n-1))
	le.PutUint16(b[10:], coreSegment)
	// The list ends with the next entry down.
	clear(out[firstBlocklist-blocklistSize : firstBlocklist])
	return out, nil
}

// Build writes to out a raw disk image that boots kernel, a gosv image
// with a Multiboot2 header, through GRUB with the given command line.
func Build(kernel, out, cmdline string) error {
	if err := Check(); err != nil {
		return err
	}
	kf, err := os.Open(kernel)
	if err != nil {
		return fmt.Errorf("grubimage: %w", err)
	}
	kinfo, err := kf.Stat()
	if err == nil {
		_, err = kimage.Inspect(kf)
	}
	kf.Close()
	if err != nil {
		return fmt.Errorf("grubimage: kernel %s: %w", kernel, err)
	}
	bootImg, err := os.ReadFile(filepath.Join(ModuleDir, "boot.img"))
	if err != nil {
		return fmt.Errorf("grubimage: %w", err)
	}

	tmp, err := os.MkdirTemp("", "grubimage-")
	if err != nil {
		return fmt.Errorf("grubimage: %w", err)
	}
	defer os.RemoveAll(tmp)

	coreFile := filepath.Join(tmp, "core.img")
	args := append([]string{"-O", "i386-pc", "-d", ModuleDir, "-o", coreFile, "-p", Prefix}, Modules...)
	if err := run("grub-mkimage", args...); err != nil {
		return err
	}
	core, err := os.ReadFile(coreFile)
	if err != nil {
		return fmt.Errorf("grubimage: %w", err)
	}
	core, err = PatchCore(core, 1)
	if err != nil {
		return err
	}
	cfgFile := filepath.Join(tmp, "grub.cfg")
	if err := os.WriteFile(cfgFile, []byte(Config(cmdline)), 0o644); err != nil {
		return fmt.Errorf("grubimage: %w", err)
	}

	// The partition: the kernel plus an eighth and 1 MiB, in whole MiB.
	size := max(kinfo.Size()+kinfo.Size()/8+1<<20, minPartition)
	size = (size + 1<<20 - 1) &^ (1<<20 - 1)
	sectors := size / SectorSize
	if PartitionStart+sectors > 1<<32 {
		return fmt.Errorf("grubimage: kernel %s too big for an MBR disk", kernel)
	}

	// Build beside out and rename, so out is never half written.
	img := out + ".tmp"
	f, err := os.Create(img)
	if err != nil {
		return fmt.Errorf("grubimage: %w", err)
	}
	defer os.Remove(img) // after a successful rename, a no-op
	if err := f.Truncate((PartitionStart + sectors) * SectorSize); err != nil {
		f.Close()
		return fmt.Errorf("grubimage: %w", err)
	}
	f.Close()

	// The file system, through mtools' image@@offset syntax.
	fs := fmt.Sprintf("%s@@%d", img, PartitionStart*SectorSize)
	if err := run("mformat", "-i", fs, "-T", fmt.Sprint(sectors), "-h", "255", "-s", "63",
		"-H", fmt.Sprint(PartitionStart), "-N", volumeSerial, "-v", "GOSV", "::"); err != nil {
		return err
	}
	if err := run("mmd", "-i", fs, "::/boot", "::/boot/grub"); err != nil {
		return err
	}
	if err := run("mcopy", "-i", fs, kernel, "::/boot/gosv.elf"); err != nil {
		return err
	}
	if err := run("mcopy", "-i", fs, cfgFile, "::/boot/grub/grub.cfg"); err != nil {
		return err
	}

	f, err = os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("grubimage: %w", err)
	}
	defer f.Close()
	bs := make([]byte, SectorSize)
	if _, err := f.ReadAt(bs, PartitionStart*SectorSize); err != nil {
		return fmt.Errorf("grubimage: reading the FAT boot sector: %w", err)
	}
	typ, err := PartitionType(bs)
	if err != nil {
		return err
	}
	mbr, err := MBR(bootImg, 1, DiskID, []Partition{{Bootable: true, Type: typ, Start: PartitionStart, Sectors: uint32(sectors)}})
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(mbr, 0); err != nil {
		return fmt.Errorf("grubimage: %w", err)
	}
	if _, err := f.WriteAt(core, SectorSize); err != nil {
		return fmt.Errorf("grubimage: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("grubimage: %w", err)
	}
	if err := os.Rename(img, out); err != nil {
		return fmt.Errorf("grubimage: %w", err)
	}
	return nil
}

// PartitionType returns the MBR partition type for the FAT file system
// whose boot sector is bs (LBA-addressed types, as the partition can lie
// beyond what CHS reaches).
func PartitionType(bs []byte) (byte, error) {
	if len(bs) < SectorSize || bs[510] != 0x55 || bs[511] != 0xaa {
		return 0, errors.New("grubimage: no FAT boot sector in the partition")
	}
	switch {
	case bytes.HasPrefix(bs[0x52:], []byte("FAT32")):
		return 0x0c, nil
	case bytes.HasPrefix(bs[0x36:], []byte("FAT16")):
		return 0x0e, nil
	case bytes.HasPrefix(bs[0x36:], []byte("FAT12")):
		return 0x01, nil
	}
	return 0, errors.New("grubimage: the partition's boot sector names no FAT type")
}

// run runs a tool, returning its output in the error if it fails.
func run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	// Geometry checks would refuse a partition that is not a whole
	// number of 255x63 cylinders; the geometry is only nominal.
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("grubimage: %s %s: %v\n%s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
