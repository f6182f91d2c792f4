package api

import (
	"strconv"
	"strings"
	"time"
)

func networkRoutes(sys interface {
	Network
	Uptime() time.Duration
}) []route {
	return []route{
		{"GET", "/network/ifconfig/", func(*request) (any, error) {
			ifs, err := sys.Interfaces()
			if err != nil {
				return nil, err
			}
			now := sys.Uptime()
			out := []interfaceJSON{}
			for _, i := range ifs {
				out = append(out, newInterfaceJSON(i, now))
			}
			return out, nil
		}},
		{"GET", "/network/ifconfig/{intf}", func(r *request) (any, error) {
			ifs, err := sys.Interfaces()
			if err != nil {
				return nil, err
			}
			name := r.params["intf"]
			for _, i := range ifs {
				if i.Name == name {
					return newInterfaceJSON(i, sys.Uptime()), nil
				}
			}
			return nil, notFound("interface %q not found", name)
		}},
		{"GET", "/network/stats/", func(*request) (any, error) {
			st, err := sys.Stats()
			if err != nil {
				return nil, err
			}
			if st == nil {
				st = map[string]uint64{}
			}
			return st, nil
		}},
		{"GET", "/network/route/", func(*request) (any, error) {
			routes, err := sys.Routes()
			if err != nil {
				return nil, err
			}
			out := []routeJSON{}
			for _, rt := range routes {
				out = append(out, routeJSON{rt.Destination, rt.Gateway, rt.Flags, rt.Interface, rt.IPv6})
			}
			return out, nil
		}},
	}
}

// interfaceJSON is OSv's Interface model: config, data and the time the
// data was read (microseconds since boot).
type interfaceJSON struct {
	Config interfaceConfigJSON `json:"config"`
	Data   interfaceDataJSON   `json:"data"`
	Time   int64               `json:"time"`
}

// interfaceConfigJSON is OSv's Interface_config; OSv sends the MTU as a
// string.
type interfaceConfigJSON struct {
	Name      string `json:"name"`
	Addr      string `json:"addr"`
	Mask      string `json:"mask"`
	Broadcast string `json:"broadcast"`
	Flags     string `json:"flags"`
	MTU       string `json:"mtu"`
	PhysAddr  string `json:"phys_addr"`
}

// interfaceDataJSON is the part of OSv's Interface_data (BSD's if_data)
// that a gVisor NIC counts.
type interfaceDataJSON struct {
	MTU      int    `json:"ifi_mtu"`
	IPackets uint64 `json:"ifi_ipackets"`
	IErrors  uint64 `json:"ifi_ierrors"`
	IQDrops  uint64 `json:"ifi_iqdrops"`
	OPackets uint64 `json:"ifi_opackets"`
	OErrors  uint64 `json:"ifi_oerrors"`
	IBytes   uint64 `json:"ifi_ibytes"`
	OBytes   uint64 `json:"ifi_obytes"`
}

func newInterfaceJSON(i Interface, now time.Duration) interfaceJSON {
	s := i.Stats
	return interfaceJSON{
		Config: interfaceConfigJSON{
			Name: i.Name, Addr: i.Addr, Mask: i.Mask, Broadcast: i.Broadcast,
			// OSv prefixes the names with the octal flag word, which
			// gVisor has no equivalent of.
			Flags:    "<" + strings.Join(i.Flags, ",") + ">",
			MTU:      strconv.Itoa(i.MTU),
			PhysAddr: i.MAC,
		},
		Data: interfaceDataJSON{
			MTU: i.MTU, IPackets: s.RxPackets, IErrors: s.RxErrors, IQDrops: s.RxDropped,
			OPackets: s.TxPackets, OErrors: s.TxErrors, IBytes: s.RxBytes, OBytes: s.TxBytes,
		},
		Time: now.Microseconds(),
	}
}

// routeJSON is OSv's Route model.
type routeJSON struct {
	Destination string `json:"destination"`
	Gateway     string `json:"gateway"`
	Flags       string `json:"flags"`
	Netif       string `json:"netif"`
	IPv6        bool   `json:"ipv6"`
}
