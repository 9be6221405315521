package shim

// Linux x86-64 system-call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
const (
	sysRead           = 0
	sysWrite          = 1
	sysClose          = 3
	sysMmap           = 9
	sysMprotect       = 10
	sysMunmap         = 11
	sysRtSigaction    = 13
	sysRtSigprocmask  = 14
	sysRtSigreturn    = 15
	sysSchedYield     = 24
	sysMadvise        = 28
	sysNanosleep      = 35
	sysGetpid         = 39
	sysClone          = 56
	sysExit           = 60
	sysFcntl          = 72
	sysSigaltstack    = 131
	sysPrctl          = 157
	sysArchPrctl      = 158
	sysGettid         = 186
	sysFutex          = 202
	sysSchedSetaff    = 203
	sysSchedGetaff    = 204
	sysClockGettime   = 228
	sysClockNanosleep = 230
	sysExitGroup      = 231
	sysEpollCtl       = 233
	sysTgkill         = 234
	sysOpenat         = 257
	sysEpollPwait     = 281
	sysEventfd2       = 290
	sysEpollCreate1   = 291
	sysPrlimit64      = 302
	sysGetrandom      = 318
	maxSyscall        = 512
)
