package shim

// File descriptors: 0-2 are the console; the runtime's netpoller creates one epoll instance and one
// eventfd (netpollBreak), and sleeps in epoll_pwait until a timer is due or the eventfd is written.
const (
	maxFDs   = 16
	maxWatch = 8
)

const (
	fdNone = iota
	fdEpoll
	fdEventfd
)

type epollWatch struct {
	fd     int64
	events uint32
	data   uint64
}

type fileDesc struct {
	kind    int
	counter uint64 // eventfd
	watches [maxWatch]epollWatch
	nwatch  int
}

var fds [maxFDs]fileDesc

//go:nosplit
func fdKind(fd int64) int {
	if fd < 3 || fd >= maxFDs {
		return fdNone
	}
	return fds[fd].kind
}

//go:nosplit
func isEventfd(fd int64) bool { return fdKind(fd) == fdEventfd }

//go:nosplit
func allocFD(kind int) int64 {
	for i := int64(3); i < maxFDs; i++ {
		if fds[i].kind == fdNone {
			fds[i] = fileDesc{kind: kind}
			return i
		}
	}
	return -24 // EMFILE
}

//go:nosplit
func closeFD(fd int64) int64 {
	if fd >= 0 && fd <= 2 {
		return 0
	}
	if fdKind(fd) == fdNone {
		return -eBADF
	}
	fds[fd].kind = fdNone
	return 0
}

//go:nosplit
func epollCreate() int64 { return allocFD(fdEpoll) }

//go:nosplit
func eventfdCreate(initval uint64) int64 {
	fd := allocFD(fdEventfd)
	if fd >= 0 {
		fds[fd].counter = initval
	}
	return fd
}

// epollCtl: EPOLL_CTL_ADD/MOD/DEL of an fd with its 8 bytes of user data (Go stores a tagged pointer).
//
//go:nosplit
func epollCtl(epfd, op, fd int64, ev uintptr) int64 {
	if fdKind(epfd) != fdEpoll {
		return -eBADF
	}
	e := &fds[epfd]
	const ctlAdd, ctlDel, ctlMod = 1, 2, 3
	idx := -1
	for i := 0; i < e.nwatch; i++ {
		if e.watches[i].fd == fd {
			idx = i
		}
	}
	switch op {
	case ctlDel:
		if idx < 0 {
			return -eNOENT
		}
		e.nwatch--
		e.watches[idx] = e.watches[e.nwatch]
		return 0
	case ctlAdd, ctlMod:
		if !userOK(ev, epollEventSize) {
			return -eFAULT
		}
		if idx < 0 {
			if op == ctlMod {
				return -eNOENT
			}
			if e.nwatch == maxWatch {
				return -eNOMEM
			}
			idx = e.nwatch
			e.nwatch++
		}
		e.watches[idx] = epollWatch{fd: fd, events: *(*uint32)(ptr(ev)), data: *(*uint64)(ptr(ev + epollDataOff))}
		return 0
	}
	return -eINVAL
}

// epollReady writes up to max ready events (struct epoll_event: u32 events, then u64 data at
// epollDataOff: packed on x86-64 only).
//
//go:nosplit
func epollReady(e *fileDesc, out uintptr, max int64) int64 {
	n := int64(0)
	for i := 0; i < e.nwatch && n < max; i++ {
		w := &e.watches[i]
		if isEventfd(w.fd) && fds[w.fd].counter > 0 && w.events&1 != 0 { // EPOLLIN
			*(*uint32)(ptr(out + uintptr(epollEventSize*n))) = 1
			*(*uint64)(ptr(out + uintptr(epollEventSize*n) + epollDataOff)) = w.data
			n++
		}
	}
	return n
}

//go:nosplit
func epollWait(f *Frame, epfd int64, out uintptr, max int64, timeoutMS int64) {
	if fdKind(epfd) != fdEpoll || max <= 0 {
		f.setRet(-eINVAL)
		return
	}
	if !userOK(out, uintptr(epollEventSize*max)) {
		f.setRet(-eFAULT)
		return
	}
	if n := epollReady(&fds[epfd], out, max); n > 0 || timeoutMS == 0 {
		f.setRet(n)
		return
	}
	var deadline uint64
	if timeoutMS > 0 {
		deadline = archCycles() + archNsToCycles(uint64(timeoutMS)*1e6) + 1
	}
	f.setRet(0)
	block(f, waitEpoll, uintptr(epfd), deadline)
}

// eventfdWrite adds to the counter and wakes epoll waiters with EINTR: the runtime's netpoll then
// re-polls (or returns to recompute its sleep) and sees the eventfd ready.
//
//go:nosplit
func eventfdWrite(fd int64, p uintptr, n int64) int64 {
	if n < 8 {
		return -eINVAL
	}
	fds[fd].counter += *(*uint64)(ptr(p))
	for i := range threads {
		t := &threads[i]
		if t.state == tBlocked && t.waitKind == waitEpoll {
			wake(t, -eINTR)
		}
	}
	return 8
}

//go:nosplit
func eventfdRead(fd int64, p uintptr) int64 {
	if fds[fd].counter == 0 {
		return -eAGAIN
	}
	*(*uint64)(ptr(p)) = fds[fd].counter
	fds[fd].counter = 0
	return 8
}
