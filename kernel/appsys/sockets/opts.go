package sockets

import (
	"encoding/binary"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// Option numbers syscall does not name (include/uapi/linux/tcp.h, in.h,
// asm-generic/socket.h).
const (
	soReusePort     = 15
	soProtocol      = 38
	soDomain        = 39
	soIncomingCPU   = 49
	tcpUserTimeout  = 18
	tcpFastopen     = 23
	tcpNotsentLowat = 25
	tcpFastopenConn = 30
	ipRecverr       = 11
	ipBindNoPort    = 24
	ipv6RecvPktinfo = 49
	ipv6Tclass      = 67
)

// GetSockOpt returns an option's value as Linux lays it out (most are
// a 4-byte int); the caller truncates it to the application's optlen.
func (s *Socket) GetSockOpt(level, name int) ([]byte, error) {
	if level == syscall.SOL_SOCKET {
		switch name {
		case syscall.SO_TYPE:
			return intOpt(s.Type), nil
		case soDomain:
			return intOpt(s.Domain), nil
		case soProtocol:
			return intOpt(s.Protocol), nil
		case syscall.SO_RCVTIMEO:
			return timevalOpt(time.Duration(s.rcvTimeo.Load())), nil
		case syscall.SO_SNDTIMEO:
			return timevalOpt(time.Duration(s.sndTimeo.Load())), nil
		}
	}
	return s.impl.getsockopt(s, level, name)
}

// SetSockOpt sets an option from the application's bytes.
func (s *Socket) SetSockOpt(level, name int, v []byte) error {
	defer s.publish(false)
	if level == syscall.SOL_SOCKET {
		switch name {
		case syscall.SO_TYPE, soDomain, soProtocol, syscall.SO_ERROR, syscall.SO_ACCEPTCONN:
			return syscall.ENOPROTOOPT // read-only, as on Linux
		case syscall.SO_RCVTIMEO, syscall.SO_SNDTIMEO:
			d, err := timevalValue(v)
			if err != nil {
				return err
			}
			if name == syscall.SO_RCVTIMEO {
				s.rcvTimeo.Store(int64(d))
			} else {
				s.sndTimeo.Store(int64(d))
			}
			return nil
		}
	}
	return s.impl.setsockopt(s, level, name, v)
}

func intOpt(v int) []byte {
	return binary.LittleEndian.AppendUint32(nil, uint32(int32(v)))
}

func boolOpt(v bool) []byte {
	if v {
		return intOpt(1)
	}
	return intOpt(0)
}

// intValue reads an int option; Linux wants at least 4 bytes.
func intValue(v []byte) (int, error) {
	if len(v) < 4 {
		return 0, syscall.EINVAL
	}
	return int(int32(binary.LittleEndian.Uint32(v))), nil
}

// timevalOpt encodes struct timeval {tv_sec, tv_usec int64}.
func timevalOpt(d time.Duration) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(d/time.Second))
	return binary.LittleEndian.AppendUint64(b, uint64(d%time.Second/time.Microsecond))
}

func timevalValue(v []byte) (time.Duration, error) {
	if len(v) < 16 {
		return 0, syscall.EINVAL
	}
	sec, usec := int64(binary.LittleEndian.Uint64(v)), int64(binary.LittleEndian.Uint64(v[8:]))
	if usec < 0 || usec >= 1e6 {
		return 0, syscall.EDOM
	}
	if sec < 0 {
		return 0, nil // Linux: a negative timeout means none
	}
	if sec > int64(time.Duration(1<<62)/time.Second) {
		return 0, nil
	}
	return time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond, nil
}

// lingerOpt encodes struct linger {int l_onoff, l_linger}.
func lingerOpt(l tcpip.LingerOption) []byte {
	return append(boolOpt(l.Enabled), intOpt(int(l.Timeout/time.Second))...)
}

func (s *inet) getsockopt(so *Socket, level, name int) ([]byte, error) {
	ops := s.ep.SocketOptions()
	switch level {
	case syscall.SOL_SOCKET:
		switch name {
		case syscall.SO_REUSEADDR:
			return boolOpt(ops.GetReuseAddress()), nil
		case soReusePort:
			return boolOpt(ops.GetReusePort()), nil
		case syscall.SO_KEEPALIVE:
			return boolOpt(ops.GetKeepAlive()), nil
		case syscall.SO_BROADCAST:
			return boolOpt(ops.GetBroadcast()), nil
		case syscall.SO_ACCEPTCONN:
			return boolOpt(ops.GetAcceptConn()), nil
		case syscall.SO_ERROR:
			err := s.ep.LastError()
			if err == nil {
				return intOpt(0), nil
			}
			e, _ := errno(err).(syscall.Errno)
			return intOpt(int(e)), nil
		case syscall.SO_SNDBUF:
			return intOpt(int(ops.GetSendBufferSize())), nil
		case syscall.SO_RCVBUF:
			return intOpt(int(ops.GetReceiveBufferSize())), nil
		case syscall.SO_LINGER:
			return lingerOpt(ops.GetLinger()), nil
		case syscall.SO_RCVLOWAT:
			return intOpt(int(ops.GetRcvlowat())), nil
		case syscall.SO_SNDLOWAT:
			return intOpt(1), nil
		case syscall.SO_OOBINLINE, syscall.SO_PRIORITY, syscall.SO_DONTROUTE, syscall.SO_PASSCRED:
			return intOpt(0), nil
		}
	case syscall.IPPROTO_TCP:
		if !s.stream {
			return nil, syscall.ENOPROTOOPT
		}
		switch name {
		case syscall.TCP_NODELAY:
			return boolOpt(!ops.GetDelayOption()), nil
		case syscall.TCP_CORK:
			return boolOpt(ops.GetCorkOption()), nil
		case syscall.TCP_QUICKACK:
			return boolOpt(ops.GetQuickAck()), nil
		case syscall.TCP_KEEPIDLE:
			var v tcpip.KeepaliveIdleOption
			return durationOpt(s.ep.GetSockOpt(&v), time.Duration(v), time.Second)
		case syscall.TCP_KEEPINTVL:
			var v tcpip.KeepaliveIntervalOption
			return durationOpt(s.ep.GetSockOpt(&v), time.Duration(v), time.Second)
		case syscall.TCP_DEFER_ACCEPT:
			var v tcpip.TCPDeferAcceptOption
			return durationOpt(s.ep.GetSockOpt(&v), time.Duration(v), time.Second)
		case syscall.TCP_LINGER2:
			var v tcpip.TCPLingerTimeoutOption
			return durationOpt(s.ep.GetSockOpt(&v), time.Duration(v), time.Second)
		case tcpUserTimeout:
			var v tcpip.TCPUserTimeoutOption
			return durationOpt(s.ep.GetSockOpt(&v), time.Duration(v), time.Millisecond)
		case syscall.TCP_KEEPCNT:
			return intSockOpt(s.ep, tcpip.KeepaliveCountOption)
		case syscall.TCP_MAXSEG:
			return intSockOpt(s.ep, tcpip.MaxSegOption)
		case syscall.TCP_SYNCNT:
			return intSockOpt(s.ep, tcpip.TCPSynCountOption)
		case syscall.TCP_WINDOW_CLAMP:
			return intSockOpt(s.ep, tcpip.TCPWindowClampOption)
		case syscall.TCP_CONGESTION:
			var v tcpip.CongestionControlOption
			if err := s.ep.GetSockOpt(&v); err != nil {
				return nil, errno(err)
			}
			b := make([]byte, 16) // TCP_CA_NAME_MAX
			copy(b, v)
			return b, nil
		case syscall.TCP_INFO:
			var v tcpip.TCPInfoOption
			if err := s.ep.GetSockOpt(&v); err != nil {
				return nil, errno(err)
			}
			return tcpInfo(v), nil
		case tcpFastopen, tcpFastopenConn, tcpNotsentLowat:
			return intOpt(0), nil
		}
	case syscall.IPPROTO_IP:
		switch name {
		case syscall.IP_TOS:
			return intSockOpt(s.ep, tcpip.IPv4TOSOption)
		case syscall.IP_TTL:
			v, err := s.ep.GetSockOptInt(tcpip.IPv4TTLOption)
			if err == nil && v == tcpip.UseDefaultIPv4TTL {
				v = 64
			}
			return intOpt(v), errno(err)
		case syscall.IP_MTU_DISCOVER:
			return intSockOpt(s.ep, tcpip.MTUDiscoverOption)
		case ipRecverr:
			return boolOpt(ops.GetIPv4RecvError()), nil
		case syscall.IP_PKTINFO:
			return boolOpt(ops.GetReceivePacketInfo()), nil
		case syscall.IP_MULTICAST_LOOP:
			return boolOpt(ops.GetMulticastLoop()), nil
		case ipBindNoPort, syscall.IP_FREEBIND:
			return intOpt(0), nil
		}
	case syscall.IPPROTO_IPV6:
		if s.family != syscall.AF_INET6 {
			return nil, syscall.ENOPROTOOPT
		}
		switch name {
		case syscall.IPV6_V6ONLY:
			return boolOpt(ops.GetV6Only()), nil
		case ipv6Tclass:
			return intSockOpt(s.ep, tcpip.IPv6TrafficClassOption)
		case syscall.IPV6_UNICAST_HOPS:
			v, err := s.ep.GetSockOptInt(tcpip.IPv6HopLimitOption)
			if err == nil && v == tcpip.UseDefaultIPv6HopLimit {
				v = 64
			}
			return intOpt(v), errno(err)
		case ipv6RecvPktinfo:
			return boolOpt(ops.GetIPv6ReceivePacketInfo()), nil
		}
	}
	return nil, syscall.ENOPROTOOPT
}

func (s *inet) setsockopt(so *Socket, level, name int, b []byte) error {
	ops := s.ep.SocketOptions()
	v, verr := intValue(b)
	if level == syscall.IPPROTO_IP && len(b) >= 1 && len(b) < 4 {
		// IP options also take a single byte.
		v, verr = int(b[0]), nil
	}
	set := func(f func(bool)) error {
		if verr != nil {
			return verr
		}
		f(v != 0)
		return nil
	}
	setInt := func(opt tcpip.SockOptInt) error {
		if verr != nil {
			return verr
		}
		return errno(s.ep.SetSockOptInt(opt, v))
	}
	switch level {
	case syscall.SOL_SOCKET:
		switch name {
		case syscall.SO_REUSEADDR:
			return set(ops.SetReuseAddress)
		case soReusePort:
			return set(ops.SetReusePort)
		case syscall.SO_KEEPALIVE:
			return set(ops.SetKeepAlive)
		case syscall.SO_BROADCAST:
			return set(ops.SetBroadcast)
		case syscall.SO_SNDBUF, syscall.SO_SNDBUFFORCE:
			if verr != nil {
				return verr
			}
			// Linux doubles the request to leave room for bookkeeping.
			ops.SetSendBufferSize(int64(max(v, 0))*2, true)
			return nil
		case syscall.SO_RCVBUF, syscall.SO_RCVBUFFORCE:
			if verr != nil {
				return verr
			}
			lo, hi := ops.ReceiveBufferLimits()
			ops.SetReceiveBufferSize(min(max(int64(max(v, 0))*2, lo), hi), true)
			return nil
		case syscall.SO_LINGER:
			if len(b) < 8 {
				return syscall.EINVAL
			}
			secs := int32(binary.LittleEndian.Uint32(b[4:]))
			ops.SetLinger(tcpip.LingerOption{Enabled: v != 0, Timeout: time.Duration(max(secs, 0)) * time.Second})
			return nil
		case syscall.SO_RCVLOWAT:
			if verr != nil {
				return verr
			}
			return errno(ops.SetRcvlowat(int32(max(v, 1))))
		case syscall.SO_OOBINLINE, syscall.SO_PRIORITY, syscall.SO_DONTROUTE, syscall.SO_SNDLOWAT, soIncomingCPU:
			return verr // accepted; nothing here depends on them
		}
	case syscall.IPPROTO_TCP:
		if !s.stream {
			return syscall.ENOPROTOOPT
		}
		switch name {
		case syscall.TCP_NODELAY:
			return set(func(on bool) { ops.SetDelayOption(!on) })
		case syscall.TCP_CORK:
			return set(ops.SetCorkOption)
		case syscall.TCP_QUICKACK:
			return set(ops.SetQuickAck)
		case syscall.TCP_KEEPIDLE, syscall.TCP_KEEPINTVL:
			if verr != nil {
				return verr
			}
			if v < 1 || v > 32767 { // MAX_TCP_KEEPIDLE
				return syscall.EINVAL
			}
			if name == syscall.TCP_KEEPIDLE {
				o := tcpip.KeepaliveIdleOption(time.Duration(v) * time.Second)
				return errno(s.ep.SetSockOpt(&o))
			}
			o := tcpip.KeepaliveIntervalOption(time.Duration(v) * time.Second)
			return errno(s.ep.SetSockOpt(&o))
		case syscall.TCP_KEEPCNT:
			if verr == nil && (v < 1 || v > 127) { // MAX_TCP_KEEPCNT
				return syscall.EINVAL
			}
			return setInt(tcpip.KeepaliveCountOption)
		case syscall.TCP_DEFER_ACCEPT:
			if verr != nil {
				return verr
			}
			o := tcpip.TCPDeferAcceptOption(time.Duration(max(v, 0)) * time.Second)
			return errno(s.ep.SetSockOpt(&o))
		case syscall.TCP_LINGER2:
			if verr != nil {
				return verr
			}
			o := tcpip.TCPLingerTimeoutOption(time.Duration(v) * time.Second)
			return errno(s.ep.SetSockOpt(&o))
		case tcpUserTimeout:
			if verr != nil {
				return verr
			}
			if v < 0 {
				return syscall.EINVAL
			}
			o := tcpip.TCPUserTimeoutOption(time.Duration(v) * time.Millisecond)
			return errno(s.ep.SetSockOpt(&o))
		case syscall.TCP_MAXSEG:
			return setInt(tcpip.MaxSegOption)
		case syscall.TCP_SYNCNT:
			return setInt(tcpip.TCPSynCountOption)
		case syscall.TCP_WINDOW_CLAMP:
			return setInt(tcpip.TCPWindowClampOption)
		case syscall.TCP_CONGESTION:
			name := string(b)
			for i, c := range b {
				if c == 0 {
					name = string(b[:i])
					break
				}
			}
			o := tcpip.CongestionControlOption(name)
			if err := s.ep.SetSockOpt(&o); err != nil {
				return syscall.ENOENT // Linux: no such algorithm
			}
			return nil
		case tcpFastopen, tcpFastopenConn, tcpNotsentLowat:
			return verr // accepted; netstack has no fast open
		}
	case syscall.IPPROTO_IP:
		switch name {
		case syscall.IP_TOS:
			return setInt(tcpip.IPv4TOSOption)
		case syscall.IP_TTL:
			if verr == nil && v == -1 {
				v = tcpip.UseDefaultIPv4TTL
			}
			if verr == nil && (v < 0 || v > 255) {
				return syscall.EINVAL
			}
			return setInt(tcpip.IPv4TTLOption)
		case syscall.IP_MTU_DISCOVER:
			return setInt(tcpip.MTUDiscoverOption)
		case ipRecverr:
			return set(ops.SetIPv4RecvError)
		case syscall.IP_PKTINFO:
			return set(ops.SetReceivePacketInfo)
		case syscall.IP_MULTICAST_LOOP:
			return set(ops.SetMulticastLoop)
		case ipBindNoPort, syscall.IP_FREEBIND:
			return verr
		}
	case syscall.IPPROTO_IPV6:
		if s.family != syscall.AF_INET6 {
			return syscall.ENOPROTOOPT
		}
		switch name {
		case syscall.IPV6_V6ONLY:
			return set(ops.SetV6Only)
		case ipv6Tclass:
			return setInt(tcpip.IPv6TrafficClassOption)
		case syscall.IPV6_UNICAST_HOPS:
			if verr == nil && v == -1 {
				v = tcpip.UseDefaultIPv6HopLimit
			}
			return setInt(tcpip.IPv6HopLimitOption)
		case ipv6RecvPktinfo:
			return set(ops.SetIPv6ReceivePacketInfo)
		}
	}
	return syscall.ENOPROTOOPT
}

func intSockOpt(ep tcpip.Endpoint, opt tcpip.SockOptInt) ([]byte, error) {
	v, err := ep.GetSockOptInt(opt)
	if err != nil {
		return nil, errno(err)
	}
	return intOpt(v), nil
}

func durationOpt(err tcpip.Error, d, unit time.Duration) ([]byte, error) {
	if err != nil {
		return nil, errno(err)
	}
	return intOpt(int(d / unit)), nil
}

// tcpInfo lays out the start of Linux's struct tcp_info (up to
// tcpi_snd_cwnd) with what netstack reports.
func tcpInfo(v tcpip.TCPInfoOption) []byte {
	b := make([]byte, 104)
	b[0] = uint8(v.State)
	b[1] = uint8(v.CcState)
	binary.LittleEndian.PutUint32(b[8:], uint32(v.RTO/time.Microsecond))
	binary.LittleEndian.PutUint32(b[68:], uint32(v.RTT/time.Microsecond))
	binary.LittleEndian.PutUint32(b[72:], uint32(v.RTTVar/time.Microsecond))
	binary.LittleEndian.PutUint32(b[76:], v.SndSsthresh)
	binary.LittleEndian.PutUint32(b[80:], v.SndCwnd)
	return b
}
