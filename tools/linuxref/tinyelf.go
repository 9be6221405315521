package main

import (
	"encoding/binary"
	"fmt"
)

// The guest's short-lived processes (fork-exit-storm's, and exit-while-lazy's new user tasks) are
// this program: a static x86-64 ELF of a few hundred bytes, so that each process is what lazymm's
// newProc makes, a fresh mm with two pages and nothing else (a Go program would bring its runtime's
// threads and mappings). By its argument count:
//   - no argument: it maps three pages, writes and reads the first two, and exits with status 0;
//   - one: the same, but first it clones a thread (CLONE_VM|CLONE_THREAD, the third page its stack)
//     that reads both pages and exits, and waits for it (CLONE_CHILD_CLEARTID's futex);
//   - two (spawn, and a count as one byte): it is fork-exit-storm's spawner: after 100 ms of sleep,
//     count times, it vforks,
//     execs itself (every third with a thread) and waits for it; it exits with status 1 if one
//     failed. A spawner of its own keeps the Go runtime, whose threads share the pattern
//     process's CPUs, out of the storm.

// asm assembles the few instructions the program needs: raw bytes, and 8-bit relative jumps to labels.
type asm struct {
	code     []byte
	labels   map[string]int
	fixups   map[int]string // offset of a rel8 byte -> its label
	fixups32 map[int]string // offset of a rel32 -> its label
}

func (a *asm) emit(b ...byte) { a.code = append(a.code, b...) }

func (a *asm) label(name string) { a.labels[name] = len(a.code) }

// jump emits a short jump: op is 0xeb (jmp) or a jcc opcode (0x72 jb, 0x74 jz, 0x78 js).
func (a *asm) jump(op byte, to string) {
	a.emit(op, 0)
	a.fixups[len(a.code)-1] = to
}

// nearJB emits jb with a 32-bit displacement (0f 82).
func (a *asm) nearJB(to string) {
	a.emit(0x0f, 0x82, 0, 0, 0, 0)
	a.fixups32[len(a.code)-4] = to
}

func (a *asm) link() ([]byte, error) {
	for at, name := range a.fixups32 {
		to, ok := a.labels[name]
		if !ok {
			return nil, fmt.Errorf("tiny program: no label %s", name)
		}
		binary.LittleEndian.PutUint32(a.code[at:], uint32(int32(to-(at+4))))
	}
	for at, name := range a.fixups {
		to, ok := a.labels[name]
		if !ok {
			return nil, fmt.Errorf("tiny program: no label %s", name)
		}
		rel := to - (at + 1)
		if rel < -128 || rel > 127 {
			return nil, fmt.Errorf("tiny program: jump to %s out of range", name)
		}
		a.code[at] = byte(int8(rel))
	}
	return a.code, nil
}

// le32 is v in little-endian order (an immediate or displacement).
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// syscall numbers and clone flags (x86-64).
const (
	sysNanosleep, sysMmap, sysClone, sysVfork, sysExecve, sysExit, sysWait4, sysFutex, sysExitGroup = 35, 9, 56, 58, 59, 60, 61, 202, 231
	// CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|CHILD_CLEARTID
	threadFlags = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x200000
)

// childPath is where the initramfs holds the program; the spawner execs it from there.
const childPath = "/bin/lrchild"

// The program's layout: the ELF header and program header, its data (the path and argument vectors
// the spawner execs), then its code.
const (
	tinyBase    = 0x400000
	tinyHeaders = 64 + 56
	tinyPath    = tinyBase + tinyHeaders // childPath
	tinyName    = tinyPath + 16          // "lrchild"
	tinyThread  = tinyPath + 24          // "thread"
	tinyArgv1   = tinyPath + 32          // {name, NULL}
	tinyArgv2   = tinyPath + 48          // {name, "thread", NULL}
	tinyNap     = tinyPath + 80          // struct timespec {0, 100 ms}
	tinyCodeAt  = tinyPath + 96
)

// tinyData is the data at tinyPath.
func tinyData() []byte {
	d := make([]byte, tinyCodeAt-tinyPath)
	copy(d, childPath)
	copy(d[tinyName-tinyPath:], "lrchild")
	copy(d[tinyThread-tinyPath:], "thread")
	le := binary.LittleEndian
	le.PutUint64(d[tinyArgv1-tinyPath:], tinyName)
	le.PutUint64(d[tinyArgv2-tinyPath:], tinyName)
	le.PutUint64(d[tinyArgv2-tinyPath+8:], tinyThread)
	le.PutUint64(d[tinyNap-tinyPath+8:], 100_000_000)
	return d
}

// tinyCode is the program's text. rbx holds the mapping; the thread id word is at rbx+0x2000.
func tinyCode() ([]byte, error) {
	a := &asm{labels: map[string]int{}, fixups: map[int]string{}, fixups32: map[int]string{}}
	a.emit(0x4c, 0x8b, 0x3c, 0x24) // mov r15, [rsp]  (argc)
	a.emit(0x49, 0x83, 0xff, 0x03) // cmp r15, 3
	a.nearJB("child")              // jb child
	tinySpawner(a)
	a.label("child")
	a.emit(append([]byte{0xb8}, le32(sysMmap)...)...)                          // mov eax, 9
	a.emit(0x31, 0xff)                                                         // xor edi, edi
	a.emit(append([]byte{0xbe}, le32(0x3000)...)...)                           // mov esi, 3 pages
	a.emit(append([]byte{0xba}, le32(3)...)...)                                // mov edx, PROT_READ|PROT_WRITE
	a.emit(append([]byte{0x41, 0xba}, le32(0x22)...)...)                       // mov r10d, MAP_PRIVATE|MAP_ANONYMOUS
	a.emit(0x49, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff)                           // mov r8, -1
	a.emit(0x45, 0x31, 0xc9)                                                   // xor r9d, r9d
	a.emit(0x0f, 0x05)                                                         // syscall
	a.emit(0x48, 0x89, 0xc3)                                                   // mov rbx, rax
	a.emit(0x48, 0x89, 0x1b)                                                   // mov [rbx], rbx
	a.emit(append([]byte{0x48, 0x89, 0x9b}, le32(0x1000)...)...)               // mov [rbx+0x1000], rbx
	a.emit(0x49, 0x83, 0xff, 0x02)                                             // cmp r15, 2
	a.jump(0x72, "done")                                                       // jb done: no argument, no thread
	a.emit(append(append([]byte{0xc7, 0x83}, le32(0x2000)...), le32(1)...)...) // mov dword [rbx+0x2000], 1
	a.emit(append([]byte{0xb8}, le32(sysClone)...)...)                         // mov eax, 56
	a.emit(append([]byte{0xbf}, le32(threadFlags)...)...)                      // mov edi, flags
	a.emit(append([]byte{0x48, 0x8d, 0xb3}, le32(0x3000)...)...)               // lea rsi, [rbx+0x3000] (stack top)
	a.emit(0x31, 0xd2)                                                         // xor edx, edx
	a.emit(append([]byte{0x4c, 0x8d, 0x93}, le32(0x2000)...)...)               // lea r10, [rbx+0x2000] (child tid)
	a.emit(0x45, 0x31, 0xc0)                                                   // xor r8d, r8d
	a.emit(0x0f, 0x05)                                                         // syscall
	a.emit(0x48, 0x85, 0xc0)                                                   // test rax, rax
	a.jump(0x74, "thread")                                                     // jz thread
	a.jump(0x78, "done")                                                       // js done: clone failed
	tinyWait(a)
	a.label("thread")
	tinyReadExit(a, sysExit)
	a.label("done")
	tinyReadExit(a, sysExitGroup)
	return a.link()
}

// tinySpawner sleeps 100 ms (the orchestrator that started it goes quiet meanwhile: its Go runtime's
// threads sleep), then runs the child count times (count: argv[2]'s first byte), by vfork and
// execve, every third (i % 3 == 0) with its thread, waiting for each; r12 is the count, r13 the index.
func tinySpawner(a *asm) {
	a.emit(append([]byte{0xbf}, le32(tinyNap)...)...)      // mov edi, &timespec
	a.emit(0x31, 0xf6)                                     // xor esi, esi
	a.emit(append([]byte{0xb8}, le32(sysNanosleep)...)...) // mov eax, 35
	a.emit(0x0f, 0x05)                                     // syscall
	a.emit(0x48, 0x8b, 0x44, 0x24, 0x18)                   // mov rax, [rsp+24]  (argv[2])
	a.emit(0x44, 0x0f, 0xb6, 0x20)                         // movzx r12d, byte [rax]
	a.emit(0x45, 0x31, 0xed)                               // xor r13d, r13d
	a.label("sloop")                                       //
	a.emit(0x4d, 0x39, 0xe5)                               // cmp r13, r12
	a.jump(0x73, "sdone")                                  // jae sdone
	a.emit(append([]byte{0xb8}, le32(sysVfork)...)...)     // mov eax, 58
	a.emit(0x0f, 0x05)                                     // syscall
	a.emit(0x48, 0x85, 0xc0)                               // test rax, rax
	a.jump(0x74, "schild")                                 // jz schild
	a.jump(0x78, "sfail")                                  // js sfail
	a.emit(0x48, 0x89, 0xc7)                               // mov rdi, rax  (pid)
	a.emit(0x48, 0x8d, 0x74, 0x24, 0xf0)                   // lea rsi, [rsp-16]  (status)
	a.emit(0x31, 0xd2)                                     // xor edx, edx
	a.emit(0x45, 0x31, 0xd2)                               // xor r10d, r10d
	a.emit(append([]byte{0xb8}, le32(sysWait4)...)...)     // mov eax, 61
	a.emit(0x0f, 0x05)                                     // syscall
	a.emit(0x8b, 0x44, 0x24, 0xf0)                         // mov eax, [rsp-16]
	a.emit(0x85, 0xc0)                                     // test eax, eax
	a.jump(0x75, "sfail")                                  // jnz sfail: the child did not exit with 0
	a.emit(0x49, 0xff, 0xc5)                               // inc r13
	a.jump(0xeb, "sloop")                                  // jmp sloop
	a.label("schild")                                      // the vforked child, on the parent's memory
	a.emit(0x44, 0x89, 0xe8)                               // mov eax, r13d
	a.emit(0x31, 0xd2)                                     // xor edx, edx
	a.emit(append([]byte{0xb9}, le32(3)...)...)            // mov ecx, 3
	a.emit(0xf7, 0xf1)                                     // div ecx
	a.emit(append([]byte{0xbe}, le32(tinyArgv1)...)...)    // mov esi, argv1
	a.emit(0x85, 0xd2)                                     // test edx, edx
	a.jump(0x75, "sexec")                                  // jnz sexec
	a.emit(append([]byte{0xbe}, le32(tinyArgv2)...)...)    // mov esi, argv2
	a.label("sexec")                                       //
	a.emit(append([]byte{0xbf}, le32(tinyPath)...)...)     // mov edi, path
	a.emit(0x31, 0xd2)                                     // xor edx, edx  (no environment)
	a.emit(append([]byte{0xb8}, le32(sysExecve)...)...)    // mov eax, 59
	a.emit(0x0f, 0x05)                                     // syscall
	a.emit(append([]byte{0xbf}, le32(127)...)...)          // mov edi, 127: execve failed
	a.emit(append([]byte{0xb8}, le32(sysExit)...)...)      // mov eax, 60
	a.emit(0x0f, 0x05)                                     // syscall
	a.label("sfail")                                       //
	a.emit(append([]byte{0xbf}, le32(1)...)...)            // mov edi, 1
	a.jump(0xeb, "sexit")                                  // jmp sexit
	a.label("sdone")                                       //
	a.emit(0x31, 0xff)                                     // xor edi, edi
	a.label("sexit")                                       //
	a.emit(append([]byte{0xb8}, le32(sysExitGroup)...)...) // mov eax, 231
	a.emit(0x0f, 0x05)                                     // syscall
}

// tinyWait waits until the thread's exit clears its tid word (futex wait while it is not 0).
func tinyWait(a *asm) {
	a.label("wait")
	a.emit(append([]byte{0x8b, 0x93}, le32(0x2000)...)...)       // mov edx, [rbx+0x2000]
	a.emit(0x85, 0xd2)                                           // test edx, edx
	a.jump(0x74, "done")                                         // jz done
	a.emit(append([]byte{0xb8}, le32(sysFutex)...)...)           // mov eax, 202
	a.emit(append([]byte{0x48, 0x8d, 0xbb}, le32(0x2000)...)...) // lea rdi, [rbx+0x2000]
	a.emit(0x31, 0xf6)                                           // xor esi, esi (FUTEX_WAIT)
	a.emit(0x45, 0x31, 0xd2)                                     // xor r10d, r10d (no timeout)
	a.emit(0x0f, 0x05)                                           // syscall
	a.jump(0xeb, "wait")                                         // jmp wait
}

// tinyReadExit reads both pages and exits (exit: the thread; exit_group: the process) with status 0.
func tinyReadExit(a *asm, nr uint32) {
	a.emit(0x48, 0x8b, 0x03)                                     // mov rax, [rbx]
	a.emit(append([]byte{0x48, 0x8b, 0x83}, le32(0x1000)...)...) // mov rax, [rbx+0x1000]
	a.emit(append([]byte{0xb8}, le32(nr)...)...)                 // mov eax, nr
	a.emit(0x31, 0xff)                                           // xor edi, edi
	a.emit(0x0f, 0x05)                                           // syscall
}

// tinyELF wraps data and code in an ELF64 executable: the header, one PT_LOAD (read, execute) of the
// whole file at 0x400000, the data, the code.
func tinyELF() ([]byte, error) {
	code, err := tinyCode()
	if err != nil {
		return nil, err
	}
	const base, ehsize, phsize = tinyBase, 64, 56
	le := binary.LittleEndian
	b := make([]byte, ehsize+phsize, tinyCodeAt-tinyBase+len(code))
	copy(b, "\x7fELF\x02\x01\x01") // 64-bit, little-endian, version 1, System V ABI
	le.PutUint16(b[16:], 2)        // ET_EXEC
	le.PutUint16(b[18:], 62)       // EM_X86_64
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[24:], tinyCodeAt) // entry
	le.PutUint64(b[32:], ehsize)     // program headers
	le.PutUint16(b[52:], ehsize)
	le.PutUint16(b[54:], phsize)
	le.PutUint16(b[56:], 1)
	b = append(b, tinyData()...)
	ph := b[ehsize:]
	size := uint64(len(b) + len(code))
	le.PutUint32(ph[0:], 1) // PT_LOAD
	le.PutUint32(ph[4:], 5) // PF_R|PF_X
	le.PutUint64(ph[16:], base)
	le.PutUint64(ph[24:], base)
	le.PutUint64(ph[32:], size)
	le.PutUint64(ph[40:], size)
	le.PutUint64(ph[48:], 0x1000)
	return append(b, code...), nil
}
