package kernelsys

import (
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"gosv/api"
	"gosv/kernel"
)

func TestThread(t *testing.T) {
	tests := []struct {
		in   kernel.ThreadInfo
		want api.Thread
	}{
		{kernel.ThreadInfo{App: true, TID: 7, CPU: 1, State: "running", Switches: 3, CPUTime: time.Second},
			api.Thread{ID: 7, Name: "app", CPU: 1, Status: "running", Switches: 3, CPUTime: time.Second}},
		{kernel.ThreadInfo{TID: 2, State: "runnable"}, api.Thread{ID: 2, Name: "runtime", Status: "queued"}},
		{kernel.ThreadInfo{TID: 3, State: "waiting"}, api.Thread{ID: 3, Name: "runtime", Status: "waiting"}},
		{kernel.ThreadInfo{TID: 4, State: "exiting"}, api.Thread{ID: 4, Name: "runtime", Status: "terminating"}},
		{kernel.ThreadInfo{TID: 5, State: "bogus"}, api.Thread{ID: 5, Name: "runtime", Status: "invalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.in.State, func(t *testing.T) {
			if got := thread(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("thread(%+v)\n-want %+v\n+got  %+v", tt.in, tt.want, got)
			}
		})
	}
}

func TestConfigFunctions(t *testing.T) {
	s := New(Config{})
	if ifs, err := s.Interfaces(); ifs != nil || err != nil {
		t.Errorf("Interfaces with no function = %v, %v; want nothing", ifs, err)
	}
	if v := s.FirmwareVendor(); v != "unknown" {
		t.Errorf("FirmwareVendor = %q, want unknown", v)
	}
	boom := errors.New("stack down")
	want := []api.Route{{Destination: "0.0.0.0/0", Interface: "eth0"}}
	s = New(Config{
		Routes:         func() ([]api.Route, error) { return want, nil },
		Filesystems:    func() ([]api.FS, error) { return nil, boom },
		FirmwareVendor: "SeaBIOS",
	})
	if got, err := s.Routes(); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Routes = %v, %v; want %v", got, err, want)
	}
	if _, err := s.Filesystems(); err != boom {
		t.Errorf("Filesystems error = %v, want %v", err, boom)
	}
	if v := s.FirmwareVendor(); v != "SeaBIOS" {
		t.Errorf("FirmwareVendor = %q, want SeaBIOS", v)
	}
}

func TestEnvironment(t *testing.T) {
	s := New(Config{})
	t.Setenv("GOSV_KERNELSYS_TEST", "")
	if err := s.Setenv("GOSV_KERNELSYS_TEST", "1"); err != nil {
		t.Fatal(err)
	}
	if v, ok := s.Getenv("GOSV_KERNELSYS_TEST"); !ok || v != "1" || os.Getenv("GOSV_KERNELSYS_TEST") != "1" {
		t.Errorf("after Setenv: Getenv = %q, %v", v, ok)
	}
	if err := s.Unsetenv("GOSV_KERNELSYS_TEST"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Getenv("GOSV_KERNELSYS_TEST"); ok {
		t.Error("still set after Unsetenv")
	}
}

func TestSetHostnameRefusesLongNames(t *testing.T) {
	// Only the refusal runs on a host: kernel.SetHostname needs the VM.
	long := string(make([]byte, maxHostname+1))
	if err := New(Config{}).SetHostname(long); err == nil {
		t.Fatal("SetHostname accepted 65 bytes")
	}
}
