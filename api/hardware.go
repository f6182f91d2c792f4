package api

import "strings"

func hardwareRoutes(sys Hardware) []route {
	return []route{
		{"GET", "/hardware/processor/count", func(*request) (any, error) { return sys.CPUCount(), nil }},
		// OSv sends the flags as one space-separated string.
		{"GET", "/hardware/processor/flags", func(*request) (any, error) { return strings.Join(sys.CPUFlags(), " "), nil }},
		{"GET", "/hardware/hypervisor", func(*request) (any, error) { return sys.Hypervisor(), nil }},
		{"GET", "/hardware/firmware/vendor", func(*request) (any, error) { return sys.FirmwareVendor(), nil }},
	}
}
