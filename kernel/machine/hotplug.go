package machine

// Hotplug is the optional part of a Machine that takes a CPU offline and back (the cpu-hotplug
// scenario); the lazy-mm engine asks for it with a type assertion, so machines without it (the host)
// need nothing.
type Hotplug interface {
	// PlayDead runs on the outgoing CPU, its engine work done (idle_task_exit): the CPU leaves the
	// online mask, stores CPUDead in *state and parks with interrupts off until another CPU stores
	// CPUUp there (cpu_up); then it comes back as a booting CPU does (the root audited, init_mm
	// loaded, every translation flushed: initialize_tlbstate_and_flush), rejoins the online mask,
	// stores CPUOnline and returns.
	PlayDead(state *uint32)
}

// The states of a CPU taken down by Hotplug.PlayDead.
const (
	CPUDead   = 1 // parked: cpu_report_death
	CPUUp     = 2 // asked back: cpu_up
	CPUOnline = 3 // back in the online mask
)

// Idler is the optional part of a Machine that idles a CPU as a deep C-state's mwait does (the
// idle-leave-mm scenario).
type Idler interface {
	// IdleWait waits on the calling CPU until *wake is non-zero, interrupts off, handling the
	// cross-calls posted to it meanwhile (an interrupt ends an mwait, and the idle loop handles it).
	// Nothing else runs on the CPU, so its TLB keeps what it held.
	IdleWait(wake *uint32)
}
