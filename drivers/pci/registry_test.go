package pci

import (
	"errors"
	"reflect"
	"testing"
)

func TestRegistryBind(t *testing.T) {
	devs := Scan(q35())
	var r Registry
	for _, d := range []Driver{
		{Name: "virtio-net", Match: TableMatch("virtio-net")},
		{Name: "nvme", Match: TableMatch("nvme")},
		// Anything Ethernet; registered after virtio-net, which wins.
		{Name: "any-nic", Match: func(d Device) bool { return d.Class == ClassNetwork }},
	} {
		if err := r.Register(d); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, b := range r.Bind(devs) {
		got = append(got, b.Device.String()+" "+b.Driver.Name)
	}
	want := []string{
		"00:02.0 1af4:1000 class 020000 virtio-net",
		"01:00.0 1b36:0010 class 010802 nvme",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bindings (-want +got):\n-%q\n+%q", want, got)
	}

	// Two NICs: one driver takes both.
	two := []Device{devs[1], devs[1]}
	two[1].Dev = 5
	if bs := r.Bind(two); len(bs) != 2 || bs[1].Device.Dev != 5 {
		t.Errorf("Bind of two virtio-net devices = %+v", bs)
	}
	if bs := (&Registry{}).Bind(devs); bs != nil {
		t.Errorf("empty registry bound %+v", bs)
	}
}

func TestRegistryRegister(t *testing.T) {
	var r Registry
	match := func(Device) bool { return false }
	if err := r.Register(Driver{Name: "a", Match: match}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []Driver{{Name: "a", Match: match}, {Name: "", Match: match}, {Name: "b"}} {
		if err := r.Register(d); !errors.Is(err, ErrDriver) {
			t.Errorf("Register(%q) = %v, want ErrDriver", d.Name, err)
		}
	}
}

func TestTable(t *testing.T) {
	drivers := map[string]bool{}
	ids := map[ID]string{}
	classes := map[ClassCode]string{}
	for _, m := range Table {
		if m.Driver == "" || drivers[m.Driver] {
			t.Errorf("driver name %q empty or listed twice", m.Driver)
		}
		drivers[m.Driver] = true
		if len(m.IDs)+len(m.Classes) == 0 {
			t.Errorf("%s matches nothing", m.Driver)
		}
		for _, id := range m.IDs {
			if other, ok := ids[id]; ok {
				t.Errorf("%04x:%04x listed for %s and %s", id.Vendor, id.Device, other, m.Driver)
			}
			ids[id] = m.Driver
			if !m.Matches(Device{Vendor: id.Vendor, DeviceID: id.Device}) {
				t.Errorf("%s does not match its own ID %04x:%04x", m.Driver, id.Vendor, id.Device)
			}
		}
		for _, c := range m.Classes {
			if other, ok := classes[c]; ok {
				t.Errorf("class %+v listed for %s and %s", c, other, m.Driver)
			}
			classes[c] = m.Driver
		}
	}

	// Devices from the machines gosv targets, and who takes them.
	for _, tt := range []struct {
		d    Device
		want string
	}{
		{Device{Vendor: 0x1af4, DeviceID: 0x1000, Class: 2}, "virtio-net"},
		{Device{Vendor: 0x1af4, DeviceID: 0x1041, Class: 2}, "virtio-net"},
		{Device{Vendor: 0x1af4, DeviceID: 0x1001}, "virtio-blk"},
		{Device{Vendor: 0x1af4, DeviceID: 0x1042}, "virtio-blk"},
		{Device{Vendor: 0x1af4, DeviceID: 0x1043}, "virtio-console"},
		{Device{Vendor: 0x1af4, DeviceID: 0x1005}, "virtio-rng"},
		{Device{Vendor: 0x1af4, DeviceID: 0x1044}, "virtio-rng"},
		{Device{Vendor: 0x1af4, DeviceID: 0x1053}, "virtio-vsock"},
		{Device{Vendor: 0x15ad, DeviceID: 0x07b0}, "vmxnet3"},
		{Device{Vendor: 0x15ad, DeviceID: 0x07c0}, "pvscsi"},
		{Device{Vendor: 0x1d0f, DeviceID: 0xec20}, "ena"},
		{Device{Vendor: 0x1d0f, DeviceID: 0xec21}, "ena"},
		{Device{Vendor: 0x1d0f, DeviceID: 0x0ec2}, "ena"},
		{Device{Vendor: 0x1d0f, DeviceID: 0x8061, Class: 1, Subclass: 8, ProgIF: 2}, "nvme"}, // EBS on Nitro
		{Device{Vendor: 0x1b36, DeviceID: 0x0010, Class: 1, Subclass: 8, ProgIF: 2}, "nvme"}, // QEMU
		{Device{Vendor: 0x8086, DeviceID: 0x100e, Class: 2}, "e1000"},
		{Device{Vendor: 0x1af4, DeviceID: 0x1002}, ""}, // balloon
		{Device{Vendor: 0x8086, DeviceID: 0x29c0, Class: 6}, ""},
		{Device{Vendor: 0x1d0f, DeviceID: 0x8061, Class: 1, Subclass: 8, ProgIF: 1}, ""},
	} {
		m, ok := Lookup(tt.d)
		if m.Driver != tt.want || ok != (tt.want != "") {
			t.Errorf("Lookup(%s) = %q, %v; want %q", tt.d.String(), m.Driver, ok, tt.want)
		}
		if tt.want != "" && !TableMatch(tt.want)(tt.d) {
			t.Errorf("TableMatch(%q) does not take %s", tt.want, tt.d.String())
		}
	}
}

func TestTableMatchUnknown(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("TableMatch of an unknown driver did not panic")
		}
	}()
	TableMatch("virtio-nett")
}
