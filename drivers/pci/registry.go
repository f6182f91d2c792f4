package pci

import (
	"errors"
	"fmt"
)

// Driver is a driver as the bus sees it: a name and the devices it takes
// (normally TableMatch(Name)).
type Driver struct {
	Name  string
	Match func(Device) bool
}

// Binding pairs a device with the driver that takes it.
type Binding struct {
	Driver Driver
	Device Device
}

// Registry is the set of drivers in the kernel, filled by the boot
// sequence. The zero value is empty and ready. It is not safe for
// concurrent use; the boot sequence builds it before starting drivers.
type Registry struct {
	drivers []Driver
}

// ErrDriver is returned by Register for a driver without a name or Match
// function, or with the name of one already registered.
var ErrDriver = errors.New("pci: bad driver registration")

// Register adds d. Drivers are tried in registration order.
func (r *Registry) Register(d Driver) error {
	if d.Name == "" || d.Match == nil {
		return fmt.Errorf("%w: %q", ErrDriver, d.Name)
	}
	for _, e := range r.drivers {
		if e.Name == d.Name {
			return fmt.Errorf("%w: %q registered twice", ErrDriver, d.Name)
		}
	}
	r.drivers = append(r.drivers, d)
	return nil
}

// Bind pairs each device with the first registered driver that takes
// it, in device order. Devices no driver takes are left out; a driver
// may take several devices.
func (r *Registry) Bind(devs []Device) []Binding {
	var bs []Binding
	for _, d := range devs {
		for _, drv := range r.drivers {
			if drv.Match(d) {
				bs = append(bs, Binding{Driver: drv, Device: d})
				break
			}
		}
	}
	return bs
}
