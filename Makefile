# lazymm: `make run ARCH=amd64` builds, installs what is missing, boots and prints the result table
# of the whole matrix (the suite, every lazy-mm scheme × scenario, every injected bug, at 4 CPUs);
# `make test` runs vet and every test, including the ones that boot QEMU.
ARCH     ?= amd64
CPUS     ?= 4
RUNFLAGS ?= -matrix
BUILD    := build/$(ARCH)
KERNEL   := $(BUILD)/lazymm.elf
RUNNER   := $(BUILD)/runner
# MACHINE= picks the QEMU machine (ppc64: powernv9, docs/PPC64.md); unset, the arch's default
MACHINE  ?=
MACHINEFLAG := $(if $(MACHINE), -machine $(MACHINE))

# Kernel packages are compiled without bounds checks: a bounds panic cannot be raised from trap
# context (docs/BOOT.md: the trap-path rules and the tests that check them on the linked kernel).
export GOFLAGS := -gcflags=lazymm/arch/...=-B -gcflags=lazymm/mm/...=-B -gcflags=lazymm/kernel/machine=-B -gcflags=lazymm/kernel/lazy=-B -gcflags=lazymm/kernel/shim=-B -gcflags=lazymm/kernel/paging=-B

QEMU_amd64 := qemu-system-x86_64
PKG_amd64  := qemu-system-x86
QEMU_ppc64 := qemu-system-ppc64
PKG_ppc64  := qemu-system-ppc
# how the image is made bootable: a multiboot header (amd64); a relocating trampoline segment for
# QEMU's pseries firmware (ppc64, docs/PPC64.md)
ENTRY_amd64 := -entry lazymm/arch/amd64.boot32
ENTRY_ppc64 := -arch ppc64 -entry lazymm/arch/ppc64.boot

.PHONY: all kernel runner run test fuzz setup image iso clean bench soak debug linuxref
all: kernel runner

kernel: $(KERNEL)
runner: $(RUNNER)

$(BUILD):
	mkdir -p $@

# Always rebuilt: go build's own cache makes that cheap and keeps make free of Go's dependency graph.
$(KERNEL): FORCE | $(BUILD)
	@test -n "$(ENTRY_$(ARCH))" || { echo "ARCH=$(ARCH): want amd64 or ppc64" >&2; exit 2; }
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) go build -o $@ ./kernel/cmd/lazymm
	go run ./tools/mkimage $(ENTRY_$(ARCH)) $@

$(RUNNER): FORCE | $(BUILD)
	go build -o $@ ./tools/runner

FORCE:

# setup installs QEMU (and GRUB's image tools, for the GRUB boot test) when missing (Debian/Ubuntu, as
# root); otherwise says what to install.
# Both QEMUs, whatever ARCH: make test boots both kernels.
SETUP_TOOLS := $(QEMU_amd64) $(QEMU_ppc64) grub-mkrescue xorriso mformat
SETUP_PKGS  := $(PKG_amd64) $(PKG_ppc64) grub-pc-bin grub-common xorriso mtools
setup:
	@missing=; for t in $(SETUP_TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $(SETUP_PKGS) (missing:$$missing)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SETUP_PKGS) >/dev/null; \
	    for t in $(SETUP_TOOLS); do command -v $$t >/dev/null 2>&1 || { echo "installing did not provide $$t" >&2; exit 2; }; done; \
	  else \
	    echo "lazymm needs$$missing: install as root with: apt-get install $(SETUP_PKGS)" >&2; exit 2; \
	  fi; \
	fi

# ppc64 runs once per MMU mode (MMUS=): radix with flushes by IPI and tlbiel, radix with broadcast
# tlbie, the hashed page table, and radix leaving at exit; the exit status is the worst of the runs
# (pseries and powernv9 alike).
MMUS_amd64 :=
MMUS_ppc64 := radix radix-tlbie hash radix-exitleave
MMUS       ?= $(MMUS_$(ARCH))
run: setup kernel runner
ifeq ($(strip $(MMUS)),)
	$(RUNNER) -arch $(ARCH)$(MACHINEFLAG) -cpus $(CPUS) -kernel $(KERNEL) $(RUNFLAGS)
else
	@worst=0; for m in $(MMUS); do \
	  echo "== $(ARCH)$(MACHINEFLAG) -mmu $$m"; \
	  $(RUNNER) -arch $(ARCH)$(MACHINEFLAG) -mmu $$m -cpus $(CPUS) -kernel $(KERNEL) $(RUNFLAGS); rc=$$?; \
	  [ $$rc -gt $$worst ] && worst=$$rc; \
	done; exit $$worst
endif

# make bench: docs/BENCHMARKS.md and its charts: the suite's speed (with KUT=<built kvm-unit-tests
# tree> [KUT_PPC64=<ppc64 tree>], boot beside kvm-unit-tests: tools/bench/kut.sh), then scheme cost
# vs CPUs; about 20 min.
bench: setup kernel runner
	$(MAKE) kernel ARCH=ppc64
	KUT=$(KUT) KUT_PPC64=$(KUT_PPC64) go run ./tools/bench/speed -runs 3
	go run ./tools/bench/schemes -runs $(RUNS) -cpus 1,2,4,8

# make soak DURATION=10m: torture under every scheme, DURATION each, then every injected bug.
DURATION ?= 60s
RUNS     ?= 5
soak: setup kernel runner
	tools/bench/soak.sh $(DURATION) $(CPUS)

# make linuxref [LINUX_KERNEL=path] [RULES=6.1|mainline]: a real Linux kernel (Debian's linux-image
# package, fetched with apt-get, unless LINUX_KERNEL names one) plays the TLB scenarios under the same
# QEMU; its counters print beside lazymm's under RULES (docs/MM.md, "Against a real Linux"). Not part
# of make test: it downloads and boots a distribution kernel.
RULES ?= 6.1
linuxref: setup kernel runner
	@test "$(ARCH)" = amd64 || { echo "make linuxref compares x86's rules: ARCH=amd64" >&2; exit 2; }
	go build -o $(BUILD)/linuxref ./tools/linuxref
	$(BUILD)/linuxref -kernel "$(LINUX_KERNEL)" -rules $(RULES) -runner $(RUNNER) -lazymm $(KERNEL)

# make debug: QEMU halted with a gdb stub on port 1234 (GDBPORT=), and the gdb command that attaches
# with the kernel's symbols; DEBUGFLAGS= are runner flags (e.g. -append tests=smoke/gc).
GDBPORT ?= 1234
debug: setup kernel runner
	$(RUNNER) -arch $(ARCH)$(MACHINEFLAG) -cpus $(CPUS) -kernel $(KERNEL) -gdb $(GDBPORT) $(DEBUGFLAGS)

# test builds and boots both kernels, whatever ARCH.
test: setup
	$(MAKE) kernel ARCH=amd64
	$(MAKE) kernel ARCH=ppc64
	go vet ./...
	LAZYMM_KERNEL=$(CURDIR)/build/amd64/lazymm.elf LAZYMM_KERNEL_PPC64=$(CURDIR)/build/ppc64/lazymm.elf go test ./...

# fuzz runs each fuzz target for a bounded time (CI runs it too).
FUZZTIME ?= 10s
fuzz:
	go test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./kernel/protocol
	go test -run '^$$' -fuzz FuzzImage -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./tools/mkimage
	go test -run '^$$' -fuzz FuzzVMAs -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./mm

image: kernel
	@go run ./tools/mkimage -check $(KERNEL) && echo "GRUB-bootable multiboot image: $(KERNEL)"

# iso wraps the kernel in a GRUB rescue ISO (console on COM1): the real-board boot path, under QEMU.
ISO_CMDLINE ?=
iso: kernel
	rm -rf $(BUILD)/iso && mkdir -p $(BUILD)/iso/boot/grub
	cp $(KERNEL) $(BUILD)/iso/boot/lazymm.elf
	printf 'serial --unit=0 --speed=115200\nterminal_input serial\nterminal_output serial\nset timeout=0\nmenuentry lazymm {\n  multiboot /boot/lazymm.elf $(ISO_CMDLINE)\n  boot\n}\n' > $(BUILD)/iso/boot/grub/grub.cfg
	grub-mkrescue -o $(BUILD)/lazymm.iso $(BUILD)/iso 2>/dev/null
	@echo "GRUB ISO: $(BUILD)/lazymm.iso (boot: build/$(ARCH)/runner -cdrom $(BUILD)/lazymm.iso)"

clean:
	rm -rf build
