package stack

import (
	"reflect"
	"strings"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// Counters returns every counter of the stack by name, netstat -s
// style: gVisor's protocol statistics ("tcp.ResetsSent",
// "ip.PacketsReceived"...), and per interface the link endpoint's drops
// and the device's own counters ("eth0.link.RxQueueFull",
// "eth0.device.Interrupts"). Zero counters are left out. It walks the
// statistics by reflection: it is for reporting, not for hot paths.
func (st *Stack) Counters() map[string]uint64 {
	out := map[string]uint64{}
	s := st.s.Stats()
	flatten(out, "", reflect.ValueOf(&s).Elem())
	for _, ifc := range st.ifaces {
		flatten(out, ifc.name+".link.", reflect.ValueOf(ifc.ep.Stats()))
		flatten(out, ifc.name+".device.", reflect.ValueOf(ifc.ep.Device().Stats()))
	}
	return out
}

var counterType = reflect.TypeOf((*tcpip.StatCounter)(nil))

func flatten(out map[string]uint64, prefix string, v reflect.Value) {
	switch {
	case v.Type() == counterType:
		if !v.IsNil() {
			if n := v.Interface().(*tcpip.StatCounter).Value(); n != 0 {
				out[strings.TrimSuffix(prefix, ".")] = n
			}
		}
	case v.Kind() == reflect.Pointer:
		if !v.IsNil() {
			flatten(out, prefix, v.Elem())
		}
	case v.Kind() == reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			flatten(out, prefix+counterName(f.Name)+".", v.Field(i))
		}
	case v.Kind() == reflect.Uint64:
		if n := v.Uint(); n != 0 {
			out[strings.TrimSuffix(prefix, ".")] = n
		}
	}
}

// counterName lower-cases the first letter of a field name, or all of an
// acronym ("TCP" -> "tcp", "ResetsSent" -> "resetsSent").
func counterName(n string) string {
	if strings.ToUpper(n) == n {
		return strings.ToLower(n)
	}
	return strings.ToLower(n[:1]) + n[1:]
}
