package shim

// Linux ppc64 system-call numbers (arch/powerpc/kernel/syscalls/syscall.tbl). There is no
// arch_prctl: the runtime keeps g in R30 and needs no TLS register.
const (
	sysExit           = 1
	sysRead           = 3
	sysWrite          = 4
	sysOpen           = 5 // the ppc64 runtime opens files with open, not openat
	sysClose          = 6
	sysGetpid         = 20
	sysFcntl          = 55
	sysMmap           = 90
	sysMunmap         = 91
	sysClone          = 120
	sysMprotect       = 125
	sysSchedYield     = 158
	sysNanosleep      = 162
	sysPrctl          = 171
	sysRtSigreturn    = 172
	sysRtSigaction    = 173
	sysRtSigprocmask  = 174
	sysSigaltstack    = 185
	sysMadvise        = 205
	sysGettid         = 207
	sysFutex          = 221
	sysSchedSetaff    = 222
	sysSchedGetaff    = 223
	sysExitGroup      = 234
	sysEpollCtl       = 237
	sysClockGettime   = 246
	sysClockNanosleep = 248
	sysTgkill         = 250
	sysOpenat         = 286
	sysEpollPwait     = 303
	sysEventfd2       = 314
	sysEpollCreate1   = 315
	sysPrlimit64      = 325
	sysGetrandom      = 359
	maxSyscall        = 512
)
