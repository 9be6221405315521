# lazymm: `make run ARCH=amd64` builds, installs what is missing, boots and prints the result table;
# `make test` runs vet and every test, including the ones that boot QEMU.
ARCH     ?= amd64
CPUS     ?= 1
RUNFLAGS ?=
BUILD    := build/$(ARCH)
KERNEL   := $(BUILD)/lazymm.elf
RUNNER   := $(BUILD)/runner

# Kernel packages are compiled without bounds checks: a bounds panic cannot be raised from trap
# context. The linker's nosplit analysis then proves that no trap path can grow the stack or reach a
# runtime function that could (the build fails otherwise): that is the mechanical check of the rule.
export GOFLAGS := -gcflags=lazymm/arch/...=-B -gcflags=lazymm/mm/...=-B

QEMU_amd64 := qemu-system-x86_64
PKG_amd64  := qemu-system-x86

.PHONY: all kernel runner run test fuzz setup image clean
all: kernel runner

kernel: $(KERNEL)
runner: $(RUNNER)

$(BUILD):
	mkdir -p $@

# Always rebuilt: go build's own cache makes that cheap and keeps make free of Go's dependency graph.
$(KERNEL): FORCE | $(BUILD)
	@test "$(ARCH)" = amd64 || { echo "ARCH=$(ARCH): only amd64 boots so far (ppc64 is its own issue)" >&2; exit 2; }
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -o $@ ./kernel/cmd/lazymm
	go run ./tools/mkimage -entry lazymm/arch/amd64.boot32 $@

$(RUNNER): FORCE | $(BUILD)
	go build -o $@ ./tools/runner

FORCE:

# setup installs QEMU when it is missing (Debian/Ubuntu, as root); otherwise says what to install.
setup:
	@if ! command -v $(QEMU_$(ARCH)) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $(PKG_$(ARCH))"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(PKG_$(ARCH)) >/dev/null; \
	    command -v $(QEMU_$(ARCH)) >/dev/null 2>&1 || { echo "installing $(PKG_$(ARCH)) did not provide $(QEMU_$(ARCH))" >&2; exit 2; }; \
	  else \
	    echo "lazymm needs $(QEMU_$(ARCH)): install it as root with: apt-get install $(PKG_$(ARCH))" >&2; exit 2; \
	  fi; \
	fi

run: setup kernel runner
	$(RUNNER) -arch $(ARCH) -cpus $(CPUS) -kernel $(KERNEL) $(RUNFLAGS)

test: setup kernel
	go vet ./...
	LAZYMM_KERNEL=$(CURDIR)/$(KERNEL) go test ./...

# fuzz runs each fuzz target for a bounded time (CI runs it too).
FUZZTIME ?= 10s
fuzz:
	go test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./tools/internal/console
	go test -run '^$$' -fuzz FuzzImage -fuzztime $(FUZZTIME) ./tools/mkimage

image: kernel
	@go run ./tools/mkimage -check $(KERNEL) && echo "GRUB-bootable multiboot image: $(KERNEL)"

clean:
	rm -rf build
