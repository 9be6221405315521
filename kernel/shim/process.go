package shim

import "unsafe"

// The process the runtime starts as: the boot command line (the loader's or the firmware's, copied
// here at boot) and the initial stack Linux would give a static executable.

// Auxiliary-vector keys the arch adds.
const (
	AuxHWCap       = 16
	AuxHWCap2      = 26
	AuxSysinfoEhdr = 33
)

var (
	cmdlineBuf [1024]byte
	cmdlineLen int
	mainStack  [256 << 10]byte
	atRandom   [16]byte
)

// CmdlineAppend adds a byte of the boot command line (at boot; a longer line is cut).
//
//go:nosplit
func CmdlineAppend(b byte) {
	if cmdlineLen < len(cmdlineBuf) {
		cmdlineBuf[cmdlineLen] = b
		cmdlineLen++
	}
}

// Cmdline is the boot command line (not trap context).
func Cmdline() string { return string(cmdlineBuf[:cmdlineLen]) }

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
// pointer: argc, argv (the boot command line's words), envp, auxv (AT_PAGESZ, AT_RANDOM and the arch's
// entries, e.g. the vDSO on amd64, the hardware capabilities on ppc64), strings on top.
//
//go:nosplit
func InitialStack(archAux [][2]uintptr) uintptr {
	top := uintptr(unsafe.Pointer(&mainStack[0])) + uintptr(len(mainStack))
	// strings: "lazymm\0" then the command line with spaces turned into NULs
	strs := top - 2048
	name := "lazymm"
	s := strs
	for i := 0; i < len(name); i++ {
		*(*byte)(ptr(s)) = name[i]
		s++
	}
	*(*byte)(ptr(s)) = 0
	s++
	var argv [32]uintptr
	argc := 1
	argv[0] = strs
	inWord := false
	for i := 0; i < cmdlineLen; i++ {
		b := cmdlineBuf[i]
		if b == ' ' {
			if inWord {
				*(*byte)(ptr(s)) = 0
				s++
				inWord = false
			}
			continue
		}
		if !inWord && argc < len(argv) {
			argv[argc] = s
			argc++
			inWord = true
		}
		*(*byte)(ptr(s)) = b
		s++
	}
	*(*byte)(ptr(s)) = 0
	for i := range atRandom {
		atRandom[i] = byte(Random64())
	}

	sp := (strs - 8*(uintptr(argc)+24)) &^ 15
	w := (*[56]uintptr)(ptr(sp))
	k := 0
	w[k] = uintptr(argc)
	k++
	for i := 0; i < argc; i++ {
		w[k] = argv[i]
		k++
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
		if a[0] != auxNull && k < len(w)-4 {
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
