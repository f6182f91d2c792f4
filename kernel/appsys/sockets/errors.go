package sockets

import (
	"syscall"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// errno turns a netstack error into the errno Linux returns for the same
// condition. It is the one place tcpip errors become errnos; the table
// follows Linux (connect's EINPROGRESS/EALREADY, EPIPE after shutdown)
// as gVisor's own sentry does. ErrClosedForReceive is not an error to
// the application (a read at end of stream returns 0): readers check
// for it before calling errno.
func errno(err tcpip.Error) error {
	switch err.(type) {
	case nil:
		return nil
	case *tcpip.ErrWouldBlock, *tcpip.ErrNoPortAvailable:
		return syscall.EAGAIN
	case *tcpip.ErrConnectStarted:
		return syscall.EINPROGRESS
	case *tcpip.ErrAlreadyConnecting:
		return syscall.EALREADY
	case *tcpip.ErrAlreadyConnected:
		return syscall.EISCONN
	case *tcpip.ErrNotConnected:
		return syscall.ENOTCONN
	case *tcpip.ErrConnectionRefused:
		return syscall.ECONNREFUSED
	case *tcpip.ErrConnectionReset:
		return syscall.ECONNRESET
	case *tcpip.ErrConnectionAborted:
		return syscall.ECONNABORTED
	case *tcpip.ErrClosedForSend, *tcpip.ErrAborted:
		return syscall.EPIPE
	case *tcpip.ErrTimeout:
		return syscall.ETIMEDOUT
	case *tcpip.ErrPortInUse:
		return syscall.EADDRINUSE
	case *tcpip.ErrBadLocalAddress:
		return syscall.EADDRNOTAVAIL
	case *tcpip.ErrDestinationRequired:
		return syscall.EDESTADDRREQ
	case *tcpip.ErrNetworkUnreachable:
		return syscall.ENETUNREACH
	case *tcpip.ErrHostUnreachable:
		return syscall.EHOSTUNREACH
	case *tcpip.ErrHostDown:
		return syscall.EHOSTDOWN
	case *tcpip.ErrNoNet:
		return syscall.ENONET
	case *tcpip.ErrMessageTooLong:
		return syscall.EMSGSIZE
	case *tcpip.ErrNoBufferSpace:
		return syscall.ENOBUFS
	case *tcpip.ErrBroadcastDisabled:
		return syscall.EACCES
	case *tcpip.ErrNotPermitted:
		return syscall.EPERM
	case *tcpip.ErrAddressFamilyNotSupported:
		return syscall.EAFNOSUPPORT
	case *tcpip.ErrBadBuffer, *tcpip.ErrBadAddress:
		return syscall.EFAULT
	case *tcpip.ErrNotSupported:
		return syscall.EOPNOTSUPP
	case *tcpip.ErrQueueSizeNotSupported:
		return syscall.ENOTTY
	case *tcpip.ErrUnknownProtocolOption:
		return syscall.ENOPROTOOPT
	case *tcpip.ErrUnknownNICID, *tcpip.ErrUnknownDevice:
		return syscall.ENODEV
	case *tcpip.ErrDuplicateNICID, *tcpip.ErrDuplicateAddress:
		return syscall.EEXIST
	case *tcpip.ErrNoSuchFile:
		return syscall.ENOENT
	case *tcpip.ErrEndpointBusy:
		return syscall.EBUSY
	case *tcpip.ErrUnknownProtocol, *tcpip.ErrAlreadyBound, *tcpip.ErrInvalidEndpointState,
		*tcpip.ErrInvalidOptionValue, *tcpip.ErrMalformedHeader, *tcpip.ErrInvalidPortRange,
		*tcpip.ErrMulticastInputCannotBeOutput, *tcpip.ErrMissingRequiredFields:
		return syscall.EINVAL
	}
	return syscall.EINVAL
}
