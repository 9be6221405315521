package shim

import (
	"unsafe"

	"lazymm/kernel/catalog"
)

// The process the runtime starts as: the boot command line (the loader's or the firmware's, copied
// here at boot) and the initial stack Linux would give a static executable.

// Auxiliary-vector keys the arch adds.
const (
	AuxHWCap       = 16
	AuxHWCap2      = 26
	AuxSysinfoEhdr = 33
)

var (
	cmdlineBuf   [catalog.MaxCmdline]byte // the longest line the runner sends
	cmdlineLen   int                      // bytes kept in cmdlineBuf
	cmdlineGiven int                      // bytes the loader gave: more than cmdlineLen when the line did not fit
	mainStack    [256 << 10]byte
	atRandom     [16]byte
)

// CmdlineAppend adds a byte of the boot command line (at boot). A byte past the buffer's
// catalog.MaxCmdline is counted but not kept: CmdlineGiven then says how long the line really was,
// and the boot line reports it (ktest.Boot) instead of running with a line cut short.
//
//go:nosplit
func CmdlineAppend(b byte) {
	if cmdlineLen < len(cmdlineBuf) {
		cmdlineBuf[cmdlineLen] = b
		cmdlineLen++
	}
	cmdlineGiven++
}

// CmdlineSize records that the loader's command line is n bytes long when fewer were appended (the
// firmware copied only what fit in the kernel's buffer, and said how long the whole line is).
//
//go:nosplit
func CmdlineSize(n int) {
	if n > cmdlineGiven {
		cmdlineGiven = n
	}
}

// Cmdline is the boot command line (not trap context): all of it, unless CmdlineGiven is longer.
func Cmdline() string { return string(cmdlineBuf[:cmdlineLen]) }

// CmdlineGiven is the length of the command line the loader gave: len(Cmdline()) unless the line was
// longer than the kernel keeps (catalog.MaxCmdline bytes).
func CmdlineGiven() int { return max(cmdlineGiven, cmdlineLen) }

// CmdlineHas reports whether word is one of the boot command line's words.
//
//go:nosplit
func CmdlineHas(word string) bool {
	for start := 0; start+len(word) <= cmdlineLen; start++ {
		if start > 0 && cmdlineBuf[start-1] != ' ' {
			continue
		}
		i := 0
		for i < len(word) && cmdlineBuf[start+i] == word[i] {
			i++
		}
		if i == len(word) && (start+i == cmdlineLen || cmdlineBuf[start+i] == ' ') {
			return true
		}
	}
	return false
}

// InitialStack lays out what Linux gives a static executable on mainStack and returns its stack
// pointer: argc, argv (the boot command line's words, all of them), envp, auxv (AT_PAGESZ, AT_RANDOM
// and the arch's entries, e.g. the vDSO on amd64, the hardware capabilities on ppc64), strings on top.
//
//go:nosplit
func InitialStack(archAux [][2]uintptr) uintptr {
	top := uintptr(unsafe.Pointer(&mainStack[0])) + uintptr(len(mainStack))
	// strings: "lazymm\0" then the command line with spaces turned into NULs (at most the whole
	// buffer and a NUL)
	strs := (top - uintptr(len(cmdlineBuf)) - 64) &^ 15
	name := "lazymm"
	argc := 1
	for i := 0; i < cmdlineLen; i++ {
		if cmdlineBuf[i] != ' ' && (i == 0 || cmdlineBuf[i-1] == ' ') {
			argc++
		}
	}
	nAux := 2 + len(archAux) + 1 // AT_PAGESZ, AT_RANDOM, the arch's, AT_NULL
	sp := (strs - 8*(1+uintptr(argc)+1+1+2*uintptr(nAux))) &^ 15
	w := (*[1 << 16]uintptr)(ptr(sp))
	k := 0
	w[k] = uintptr(argc)
	k++

	s := strs
	w[k] = s
	k++
	for i := 0; i < len(name); i++ {
		*(*byte)(ptr(s)) = name[i]
		s++
	}
	*(*byte)(ptr(s)) = 0
	s++
	for i := 0; i < cmdlineLen; i++ {
		b := cmdlineBuf[i]
		if b == ' ' {
			if i > 0 && cmdlineBuf[i-1] != ' ' {
				*(*byte)(ptr(s)) = 0
				s++
			}
			continue
		}
		if i == 0 || cmdlineBuf[i-1] == ' ' {
			w[k] = s
			k++
		}
		*(*byte)(ptr(s)) = b
		s++
	}
	*(*byte)(ptr(s)) = 0
	for i := range atRandom {
		atRandom[i] = byte(Random64())
	}

	w[k] = 0 // end of argv
	k++
	w[k] = 0 // empty environment
	k++
	const auxNull, auxPagesz, auxRandom = 0, 6, 25
	w[k], w[k+1] = auxPagesz, 4096
	w[k+2], w[k+3] = auxRandom, uintptr(unsafe.Pointer(&atRandom[0]))
	k += 4
	for _, a := range archAux {
		if a[0] != auxNull {
			w[k], w[k+1] = a[0], a[1]
			k += 2
		}
	}
	w[k], w[k+1] = auxNull, 0
	return sp
}

// InjectFromCmdline sets the shim's injected bugs from the boot command line's inject= word.
//
//go:nosplit
func InjectFromCmdline() {
	DropPreemptSignals = CmdlineHas("inject=no-preempt-signal")
	SkipShootdown = CmdlineHas("inject=no-shootdown")
	WriteAfterFree = CmdlineHas("inject=write-after-free")
}

// UnixSeconds converts a UTC calendar time (from the machine's clock: CMOS, RTAS) to Unix seconds.
//
//go:nosplit
func UnixSeconds(year, mon, day, hour, min, sec int64) int64 {
	// days from the civil date (the era-based algorithm: 400-year eras of 146097 days)
	y := year
	if mon <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	m := mon + 9
	if mon > 2 {
		m = mon - 3
	}
	doy := (153*m+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	days := era*146097 + doe - 719468
	return days*86400 + hour*3600 + min*60 + sec
}
