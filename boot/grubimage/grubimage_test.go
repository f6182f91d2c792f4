package grubimage

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gosv/boot/boottest"
)

func TestCHS(t *testing.T) {
	for _, tt := range []struct {
		lba  uint32
		want string
	}{
		{0, "000100"},              // C0 H0 S1
		{62, "003f00"},             // last sector of the first track
		{63, "010100"},             // C0 H1 S1
		{2048, "202100"},           // what fdisk writes for a 1 MiB partition start
		{34815, "2a2802"},          // C2 H42 S40
		{255 * 63, "000101"},       // C1 H0 S1
		{256 * 255 * 63, "004100"}, // C256: high cylinder bits in the sector byte
		{1024*255*63 - 1, "feffff"},
		{1024 * 255 * 63, "feffff"}, // beyond CHS: capped
		{^uint32(0), "feffff"},
	} {
		if got := hex.EncodeToString(chs(tt.lba)); got != tt.want {
			t.Errorf("chs(%d) = %s, want %s", tt.lba, got, tt.want)
		}
	}
}

// fakeBootImg is shaped like GRUB's boot.img: a jmp at the drive check
// and the boot signature, other bytes a recognisable pattern.
func fakeBootImg() []byte {
	b := make([]byte, SectorSize)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	b[bootDriveCheck], b[bootDriveCheck+1] = 0xeb, 0x05
	b[510], b[511] = 0x55, 0xaa
	return b
}

func TestMBRGolden(t *testing.T) {
	boot := fakeBootImg()
	mbr, err := MBR(boot, 1, DiskID, []Partition{{Bootable: true, Type: 0x0e, Start: 2048, Sectors: 32768}})
	if err != nil {
		t.Fatal(err)
	}
	if len(mbr) != SectorSize {
		t.Fatalf("MBR is %d bytes", len(mbr))
	}
	// boot.img's code survives except for the patched fields.
	patched := map[int]byte{
		0x5c: 1, 0x5d: 0, 0x5e: 0, 0x5f: 0, 0x60: 0, 0x61: 0, 0x62: 0, 0x63: 0, // core.img at LBA 1
		0x64: 0xff,             // boot drive from %dl
		0x66: 0x90, 0x67: 0x90, // drive check jmp -> NOPs
	}
	for i := 0; i < 0x1b8; i++ {
		want, ok := patched[i]
		if !ok {
			want = boot[i]
		}
		if mbr[i] != want {
			t.Errorf("MBR byte %#x = %#x, want %#x", i, mbr[i], want)
		}
	}
	// Disk signature, partition table and boot signature, byte for byte.
	const tail = "676f7376" + "0000" + // "gosv", then 2 reserved bytes
		"80202100" + "0e2a2802" + "00080000" + "00800000" + // active, CHS 0/32/33, FAT16 LBA, CHS 2/42/40, LBA 2048, 32768 sectors
		"00000000000000000000000000000000" +
		"00000000000000000000000000000000" +
		"00000000000000000000000000000000" +
		"55aa"
	if got := hex.EncodeToString(mbr[0x1b8:]); got != tail {
		t.Errorf("MBR bytes 0x1b8-0x1ff:\n got %s\nwant %s", got, tail)
	}
	if boot[bootDriveCheck] != 0xeb || boot[bootDrive] == 0xff {
		t.Error("MBR modified boot.img")
	}
}

func TestMBRFourPartitions(t *testing.T) {
	parts := []Partition{
		{Type: 0x83, Start: 2048, Sectors: 2048},
		{Type: 0x82, Start: 4096, Sectors: 1},
		{Bootable: true, Type: 0x0c, Start: 1 << 24, Sectors: 1 << 20}, // beyond CHS
		{Type: 0x07, Start: 0xffffff00, Sectors: 0x100},                // ends at 2 TiB exactly
	}
	mbr, err := MBR(fakeBootImg(), 1, 0x12345678, parts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"00202100" + "83410100" + "00080000" + "00080000", // CHS 0/32/33 to 0/65/1
		"00410200" + "82410200" + "00100000" + "01000000", // CHS 0/65/2, one sector
		"80feffff" + "0cfeffff" + "00000001" + "00001000",
		"00feffff" + "07feffff" + "00ffffff" + "00010000",
	}
	for i, w := range want {
		if got := hex.EncodeToString(mbr[0x1be+16*i : 0x1be+16*(i+1)]); got != w {
			t.Errorf("partition %d: got %s, want %s", i+1, got, w)
		}
	}
	if got := binary.LittleEndian.Uint32(mbr[0x1b8:]); got != 0x12345678 {
		t.Errorf("disk ID %#x", got)
	}
}

func TestMBRErrors(t *testing.T) {
	noJmp := fakeBootImg()
	noJmp[bootDriveCheck] = 0x90
	noSig := fakeBootImg()
	noSig[511] = 0
	one := []Partition{{Type: 0x0e, Start: 2048, Sectors: 1}}
	for _, tt := range []struct {
		name  string
		boot  []byte
		parts []Partition
	}{
		{"short boot.img", fakeBootImg()[:446], one},
		{"no drive-check jmp", noJmp, one},
		{"no boot signature", noSig, one},
		{"five partitions", fakeBootImg(), make([]Partition, 5)},
		{"empty partition", fakeBootImg(), []Partition{{Type: 0x0e, Start: 2048}}},
		{"beyond 2 TiB", fakeBootImg(), []Partition{{Type: 0x0e, Start: 0xffffff00, Sectors: 0x101}}},
	} {
		if _, err := MBR(tt.boot, 1, 0, tt.parts); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

// TestMBRRealBootImg checks the patches against the installed boot.img:
// only the documented bytes change.
func TestMBRRealBootImg(t *testing.T) {
	boot, err := os.ReadFile(filepath.Join(ModuleDir, "boot.img"))
	if err != nil {
		t.Skipf("GRUB's boot.img: %v (on Debian: apt-get install grub-pc-bin)", err)
	}
	mbr, err := MBR(boot, 1, DiskID, []Partition{{Bootable: true, Type: 0x0e, Start: 2048, Sectors: 32768}})
	if err != nil {
		t.Fatal(err)
	}
	// The installed boot.img already holds the defaults for a core.img
	// at LBA 1 with the drive from %dl; only the drive check changes.
	for i := 0; i < 0x1b8; i++ {
		if mbr[i] != boot[i] && i != 0x66 && i != 0x67 {
			t.Errorf("byte %#x changed from %#x to %#x", i, boot[i], mbr[i])
		}
	}
	if mbr[0x66] != 0x90 || mbr[0x67] != 0x90 {
		t.Errorf("drive check %x, want 9090", mbr[0x66:0x68])
	}
}

// fakeCore is shaped like grub-mkimage's core.img: diskboot.img's
// default block list (LBA 2, n sectors, segment 0x820) at the end of the
// first sector.
func fakeCore(size int) []byte {
	c := make([]byte, size)
	for i := range c {
		c[i] = byte(i)
	}
	le := binary.LittleEndian
	for i := 0x1e8; i < 0x1f4; i++ {
		c[i] = 0xaa // a stale entry below the first one
	}
	le.PutUint64(c[0x1f4:], 2)
	le.PutUint16(c[0x1fc:], 0)
	le.PutUint16(c[0x1fe:], 0x820)
	return c
}

func TestPatchCore(t *testing.T) {
	core := fakeCore(151814) // the size of a real one: 296.5 sectors
	out, err := PatchCore(core, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 297*SectorSize {
		t.Fatalf("patched core is %d bytes, want %d", len(out), 297*SectorSize)
	}
	// Block list: LBA 2, 296 sectors, to 0x820:0; the entry below ends it.
	const want = "000000000000000000000000" + "0200000000000000" + "2801" + "2008"
	if got := hex.EncodeToString(out[0x1e8:0x200]); got != want {
		t.Errorf("block lists:\n got %s\nwant %s", got, want)
	}
	if !bytes.Equal(out[:0x1e8], core[:0x1e8]) || !bytes.Equal(out[0x200:len(core)], core[0x200:]) {
		t.Error("PatchCore changed more than the block lists")
	}
	if !bytes.Equal(out[len(core):], make([]byte, len(out)-len(core))) {
		t.Error("padding is not zero")
	}

	// Elsewhere on the disk, the list follows.
	out, _ = PatchCore(fakeCore(4*SectorSize), 100)
	if got := hex.EncodeToString(out[0x1f4:0x200]); got != "6500000000000000"+"0300"+"2008" {
		t.Errorf("core at LBA 100: block list %s", got)
	}
}

func TestPatchCoreErrors(t *testing.T) {
	wrongSeg := fakeCore(4 * SectorSize)
	wrongSeg[0x1fe] = 0
	for _, tt := range []struct {
		name string
		core []byte
	}{
		{"one sector", fakeCore(SectorSize)},
		{"too big", fakeCore((MaxCoreSectors + 1) * SectorSize)},
		{"not diskboot", wrongSeg},
	} {
		if _, err := PatchCore(tt.core, 1); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if _, err := PatchCore(fakeCore(MaxCoreSectors*SectorSize), 1); err != nil {
		t.Errorf("largest core.img refused: %v", err)
	}
}

func TestConfig(t *testing.T) {
	const want = `serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=0
menuentry gosv {
	multiboot2 /boot/gosv.elf --test=all
	boot
}
`
	if got := Config("--test=all"); got != want {
		t.Errorf("Config:\n%s\nwant\n%s", got, want)
	}
	for cmdline, line := range map[string]string{
		"":                          "multiboot2 /boot/gosv.elf\n",
		"  --verbose   --test=a,b ": "multiboot2 /boot/gosv.elf --verbose --test=a,b\n",
		"--env=HOME=$HOME app":      "multiboot2 /boot/gosv.elf '--env=HOME=$HOME' app\n",
		`it's "x";y`:                `multiboot2 /boot/gosv.elf 'it'\''s' '"x";y'` + "\n",
	} {
		if got := Config(cmdline); !strings.Contains(got, "\t"+line) {
			t.Errorf("Config(%q) lacks %q:\n%s", cmdline, line, got)
		}
	}
}

func TestPartitionType(t *testing.T) {
	bs := func(off int, name string) []byte {
		b := make([]byte, SectorSize)
		copy(b[off:], name)
		b[510], b[511] = 0x55, 0xaa
		return b
	}
	for _, tt := range []struct {
		bs   []byte
		want byte
	}{
		{bs(0x36, "FAT12   "), 0x01},
		{bs(0x36, "FAT16   "), 0x0e},
		{bs(0x52, "FAT32   "), 0x0c},
	} {
		if got, err := PartitionType(tt.bs); err != nil || got != tt.want {
			t.Errorf("PartitionType(%q) = %#x, %v; want %#x", tt.bs[0x36:0x5a], got, err, tt.want)
		}
	}
	if _, err := PartitionType(bs(0x36, "NTFS    ")); err == nil {
		t.Error("no error for a non-FAT boot sector")
	}
	if _, err := PartitionType(make([]byte, SectorSize)); err == nil {
		t.Error("no error for an empty sector")
	}
}

func TestMissingTool(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := Build("gosv.elf", filepath.Join(t.TempDir(), "disk.img"), "")
	var me *MissingToolError
	if !errors.As(err, &me) || me.Tool != "grub-mkimage" || me.Package != "grub-common" {
		t.Fatalf("Build without tools = %v", err)
	}
	if want := "grub-mkimage not found (on Debian: apt-get install grub-common)"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}

}

func TestMissingModules(t *testing.T) {
	for _, p := range []string{"grub-mkimage", "mformat", "mmd", "mcopy"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skip(err)
		}
	}
	old := ModuleDir
	defer func() { ModuleDir = old }()
	ModuleDir = t.TempDir()
	var me *MissingToolError
	if err := Check(); !errors.As(err, &me) || me.Package != "grub-pc-bin" || !strings.HasPrefix(me.Tool, ModuleDir) {
		t.Errorf("Check without GRUB's i386-pc files = %v", err)
	}
}

// TestBuild builds a disk for the real kernel and reads it back.
func TestBuild(t *testing.T) {
	if err := Check(); err != nil {
		t.Skip(err)
	}
	if testing.Short() {
		t.Skip("builds the kernel")
	}
	kernel := boottest.Kernel(t)
	out := filepath.Join(t.TempDir(), "disk.img")
	if err := Build(kernel, out, "--test=all --env=A=$B"); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(img)%(1<<20) != 0 || len(img) < PartitionStart*SectorSize+minPartition {
		t.Errorf("image is %d bytes, want whole MiB and at least %d", len(img), PartitionStart*SectorSize+minPartition)
	}
	le := binary.LittleEndian
	p := img[0x1be:]
	if p[0] != 0x80 || p[4] != 0x0e || le.Uint32(p[8:]) != PartitionStart ||
		int(le.Uint32(p[12:])) != len(img)/SectorSize-PartitionStart {
		t.Errorf("partition entry %x", p[:16])
	}
	if img[510] != 0x55 || img[511] != 0xaa || le.Uint64(img[0x5c:]) != 1 {
		t.Error("MBR lacks the signature or core.img's LBA")
	}
	// diskboot.img loads the rest of core.img, which ends before the partition.
	if start, n := le.Uint64(img[SectorSize+0x1f4:]), int(le.Uint16(img[SectorSize+0x1fc:])); start != 2 || n < 1 || 2+n > PartitionStart {
		t.Errorf("core.img block list: %d sectors from LBA %d", n, start)
	}

	fs := out + "@@" + "1048576"
	cfg, err := mtools(t, "mtype", "-i", fs, "::/boot/grub/grub.cfg")
	if err != nil {
		t.Fatal(err)
	}
	if string(cfg) != Config("--test=all --env=A=$B") {
		t.Errorf("grub.cfg on the disk:\n%s", cfg)
	}
	copyBack := filepath.Join(t.TempDir(), "gosv.elf")
	if _, err := mtools(t, "mcopy", "-i", fs, "::/boot/gosv.elf", copyBack); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(kernel)
	b, _ := os.ReadFile(copyBack)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("kernel on the disk differs (%d bytes, want %d)", len(b), len(a))
	}
	if _, err := os.Stat(out + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary image left behind: %v", err)
	}
}

func TestBuildRejectsNonKernel(t *testing.T) {
	if err := Check(); err != nil {
		t.Skip(err)
	}
	notKernel := filepath.Join(t.TempDir(), "x.elf")
	os.WriteFile(notKernel, []byte("not an ELF file"), 0o644)
	out := filepath.Join(t.TempDir(), "disk.img")
	if err := Build(notKernel, out, ""); err == nil || !strings.Contains(err.Error(), notKernel) {
		t.Errorf("Build of a non-kernel = %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("image written for a non-kernel")
	}
}

func mtools(t *testing.T, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	out, err := cmd.Output()
	if err != nil {
		t.Logf("%s %q: %v", name, args, err)
	}
	return out, err
}
