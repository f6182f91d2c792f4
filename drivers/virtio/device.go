package virtio

import (
	"errors"
	"fmt"
)

// Errors from the initialization sequence.
var (
	ErrResetTimeout     = errors.New("virtio: device did not finish reset")
	ErrNoVersion1       = errors.New("virtio: modern device does not offer VERSION_1")
	ErrFeaturesRejected = errors.New("virtio: device did not accept the features (FEATURES_OK cleared)")
	ErrNoQueue          = errors.New("virtio: queue not available")
	ErrConfigUnstable   = errors.New("virtio: configuration kept changing while read")
)

// resetPolls bounds the wait for status 0 after a reset (4.1.4.3.2: the
// driver waits for the read to return 0). Devices in QEMU and Firecracker
// reset synchronously, so the first read usually succeeds.
const resetPolls = 1 << 16

// configRetries bounds re-reads of the configuration while the device
// keeps changing it (2.5.1).
const configRetries = 64

// Device runs the initialization sequence of 3.1.1 over a Transport:
// Negotiate (reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK), then the
// driver's own setup (SetupQueue, ReadConfig), then Ready (DRIVER_OK). On
// any failure the driver calls Fail, which sets FAILED.
type Device struct {
	t        Transport
	dma      DMA
	features uint64
	status   uint8
}

// Negotiate resets the device and agrees on features: those in supported
// that the device offers, except ACCESS_PLATFORM, which gosv never
// accepts (it gives the device physical addresses, not IOMMU addresses).
// VERSION_1 is required from, and accepted for, modern devices; legacy
// devices get the low 32 bits and no FEATURES_OK step (3.1.2). If the
// device clears FEATURES_OK, Negotiate sets FAILED and returns
// ErrFeaturesRejected.
func Negotiate(t Transport, dma DMA, supported uint64) (*Device, error) {
	d := &Device{t: t, dma: dma}
	if err := d.Reset(); err != nil {
		return nil, err
	}
	d.addStatus(StatusAcknowledge)
	d.addStatus(StatusDriver)

	offered := t.DeviceFeatures()
	accept := offered & supported &^ (1 << FeatureAccessPlatform)
	if t.Legacy() {
		accept &= 0xffffffff
	} else {
		if offered&(1<<FeatureVersion1) == 0 {
			d.Fail()
			return nil, fmt.Errorf("%w (offered %#x)", ErrNoVersion1, offered)
		}
		accept |= 1 << FeatureVersion1
	}
	t.SetDriverFeatures(accept)
	d.features = accept
	if t.Legacy() {
		return d, nil
	}
	d.addStatus(StatusFeaturesOK)
	if t.Status()&StatusFeaturesOK == 0 {
		d.status &^= StatusFeaturesOK // the device refused it
		d.Fail()
		return nil, fmt.Errorf("%w: offered %#x, accepted %#x", ErrFeaturesRejected, offered, accept)
	}
	return d, nil
}

// Transport is the device's transport.
func (d *Device) Transport() Transport { return d.t }

// Features are the negotiated features.
func (d *Device) Features() uint64 { return d.features }

// Has reports whether feature bit was negotiated.
func (d *Device) Has(bit uint) bool { return d.features&(1<<bit) != 0 }

// Reset writes status 0 and waits for the device to report it.
func (d *Device) Reset() error {
	d.status = 0
	d.t.SetStatus(0)
	for range resetPolls {
		if d.t.Status() == 0 {
			return nil
		}
	}
	return ErrResetTimeout
}

func (d *Device) addStatus(bits uint8) {
	d.status |= bits
	d.t.SetStatus(d.status)
}

// SetupQueue creates queue index with at most size entries (0: as many as
// the device allows), rounded down to a power of two, and hands it to the
// device (4.1.5.1.3, 4.2.3.2). On legacy PCI the device decides the size.
func (d *Device) SetupQueue(index, size uint16) (*Queue, error) {
	t := d.t
	t.SelectQueue(index)
	max := t.QueueMaxSize()
	if max == 0 {
		return nil, fmt.Errorf("%w: queue %d", ErrNoQueue, index)
	}
	if size == 0 || size > max {
		size = max
	}
	size = floorPow2(size)
	if err := t.SetQueueSize(size); errors.Is(err, ErrQueueSizeFixed) {
		size = max
	} else if err != nil {
		return nil, err
	}
	q, err := NewQueue(d.dma, t, index, size, d.features, t.Legacy())
	if err != nil {
		return nil, err
	}
	if err := d.giveQueue(q); err != nil {
		return nil, err
	}
	return q, nil
}

// RestartQueue hands a queue from before a device reset to the device
// again: it clears q (Queue.Reset) and registers it at its old size and
// addresses, so a driver recovering from a reset allocates nothing.
func (d *Device) RestartQueue(q *Queue) error {
	t := d.t
	t.SelectQueue(q.Index())
	if max := t.QueueMaxSize(); max < q.Size() {
		return fmt.Errorf("%w: queue %d now holds %d entries, had %d", ErrNoQueue, q.Index(), max, q.Size())
	}
	if err := t.SetQueueSize(q.Size()); err != nil {
		return fmt.Errorf("virtio: queue %d: %w", q.Index(), err)
	}
	q.Reset()
	return d.giveQueue(q)
}

// giveQueue tells the device where the selected queue q is and enables it.
func (d *Device) giveQueue(q *Queue) error {
	if err := d.t.SetQueueAddrs(q.Addrs()); err != nil {
		return fmt.Errorf("virtio: queue %d: %w", q.Index(), err)
	}
	d.t.EnableQueue()
	return nil
}

// ReadConfig reads device configuration at off into p, again until the
// configuration generation is the same before and after (2.5.1).
func (d *Device) ReadConfig(off int, p []byte) error {
	for range configRetries {
		before := d.t.ConfigGeneration()
		d.t.ReadConfig(off, p)
		if d.t.ConfigGeneration() == before {
			return nil
		}
	}
	return ErrConfigUnstable
}

// Ready sets DRIVER_OK: the device is live.
func (d *Device) Ready() { d.addStatus(StatusDriverOK) }

// Fail sets FAILED: the driver has given up on the device.
func (d *Device) Fail() { d.addStatus(StatusFailed) }

// NeedsReset reports whether the device asked for a reset (2.1).
func (d *Device) NeedsReset() bool { return d.t.Status()&StatusNeedsReset != 0 }
