package kernel

import "testing"

func TestSocketWouldBlock(t *testing.T) {
	const h = 7
	const nonblockSock = ReadySocket | ReadyNonblock
	for _, tc := range []struct {
		name  string
		ready uint32
		frame Frame
		want  bool
	}{
		{"read, nothing to read", nonblockSock | epollOut, Frame{RAX: 0}, true},
		{"read, data", nonblockSock | epollIn | epollOut, Frame{RAX: 0}, false},
		{"read, end of stream", nonblockSock | 0x2000, Frame{RAX: 0}, false},
		{"read, error pending", nonblockSock | epollErr, Frame{RAX: 0}, false},
		{"read, hung up", nonblockSock | epollHup, Frame{RAX: 0}, false},
		{"read, blocking socket", ReadySocket, Frame{RAX: 0}, false},
		{"read, not a socket", ReadyNonblock, Frame{RAX: 0}, false},
		{"readv", nonblockSock, Frame{RAX: 19}, true},
		{"accept4, no connection", nonblockSock, Frame{RAX: 288}, true},
		{"accept, a connection", nonblockSock | epollIn, Frame{RAX: 43}, false},
		{"recvfrom MSG_DONTWAIT on a blocking socket", ReadySocket, Frame{RAX: 45, R10: msgDontwait}, true},
		{"recvfrom on a blocking socket", ReadySocket, Frame{RAX: 45}, false},
		{"recvmsg MSG_DONTWAIT", ReadySocket, Frame{RAX: 47, RDX: msgDontwait}, true},
		{"write, buffer full", nonblockSock | epollIn, Frame{RAX: 1}, true},
		{"write, room", nonblockSock | epollOut, Frame{RAX: 1}, false},
		{"writev, buffer full", nonblockSock, Frame{RAX: 20}, true},
		{"sendto MSG_DONTWAIT, full", ReadySocket, Frame{RAX: 44, R10: msgDontwait}, true},
		{"sendmsg MSG_DONTWAIT, room", ReadySocket | epollOut, Frame{RAX: 46, RDX: msgDontwait}, false},
		{"getsockopt is always the server's", nonblockSock, Frame{RAX: 55}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			handleEvents[h].Store(tc.ready)
			defer handleEvents[h].Store(0)
			if got := socketWouldBlock(h, &tc.frame); got != tc.want {
				t.Errorf("socketWouldBlock(ready %#x, call %d) = %v, want %v", tc.ready, tc.frame.RAX, got, tc.want)
			}
		})
	}
	if socketWouldBlock(-1, &Frame{}) || socketWouldBlock(maxHandles, &Frame{}) {
		t.Error("a handle out of range would block")
	}
}
