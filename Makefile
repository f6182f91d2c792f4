# gosv build. `make run` boots the kernel under QEMU; `make test` runs the
# unit tests and the boot tests. See README.md.

GO        ?= go
BUILD     := build
KERNEL    := $(BUILD)/gosv.elf
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# What `make run` boots with; override on the command line.
MACHINE ?= microvm
MEM     ?= 128
SMP     ?= 1
ACCEL   ?= auto
CMDLINE ?=
# APP is a Linux program to boot with (its boot file system is written to
# build/app.cpio by `gosv build` and passed as the initrd); ARGS are its
# default arguments, in kernel command line quoting (double quotes group).
APP     ?=
ARGS    ?=
TIMEOUT ?= 120s
# NET=user gives the VM a virtio-net NIC on QEMU user networking (DHCP
# from QEMU) with host ports forwarded as in FWD (HOST:GUEST, space
# separated; the REST API is on guest port 8000); NET=tap:IFNAME uses a
# tap device; NET=none (the default) no NIC.
NET     ?= none
FWD     ?= 8000:8000

.PHONY: all kernel run test unit boottest bench qemu clean vet fmt

all: kernel

kernel: $(KERNEL)

# The kernel is rebuilt whenever Go sources change; go build's cache
# makes an unchanged rebuild cheap.
$(KERNEL): FORCE
	$(GO) run ./cmd/buildkernel -o $(KERNEL) -version $(VERSION)

FORCE:

# qemu installs QEMU from Debian when it is missing.
qemu:
	@scripts/install-deps.sh

# `make run APP=path/to/binary ARGS="..."` boots an application.
run: kernel qemu
ifneq ($(APP),)
	$(GO) run ./cmd/gosv build -o $(BUILD)/app.cpio -cmdline '$(ARGS)' $(APP)
endif
	$(GO) run ./cmd/gosvrun -kernel $(KERNEL)$(if $(APP), -initrd $(BUILD)/app.cpio) -machine $(MACHINE) -m $(MEM) -smp $(SMP) -accel $(ACCEL) -timeout $(TIMEOUT) -net $(NET) $(foreach f,$(FWD),-fwd $(f)) -append "$(CMDLINE)"

# -count=1: the boot tests build the kernel themselves, so Go's test
# cache cannot see a kernel change and would replay an old pass.
test: kernel qemu vet
	$(GO) test -count=1 -timeout 30m ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null)" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

# bench boots gosv and a Debian Linux guest side by side under the same
# QEMU settings and rewrites docs/benchmarks.md (see cmd/gosvbench).
bench: kernel qemu
	$(GO) run ./cmd/gosvbench -write

clean:
	rm -rf $(BUILD)
