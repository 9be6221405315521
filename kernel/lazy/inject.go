package lazy

// injections are the engine's injected bugs by their catalogue names (kernel/catalog): each switch
// sits beside the step it breaks.
var injections = map[string]*bool{
	"refcount-no-grab":        &InjectRefcountNoGrab,
	"shootdown-no-ipi":        &InjectShootdownNoIPI,
	"mmput-unlazy-skip":       &InjectMMPutUnlazySkip,
	"loaded-mm-stale-mask":    &InjectLoadedMMStaleMask,
	"hazard-no-scan":          &InjectHazardNoScan,
	"nmi-no-check":            &InjectNMINoCheck,
	"temporary-mm-no-restore": &InjectTempMMNoRestore,
	"exit-flush-no-unlazy":    &InjectExitFlushNoUnlazy,
	"membarrier-no-ipi":       &InjectMembarrierNoIPI,
	"mmput-twice":             &InjectMMPutTwice,
	"exec-keep-active":        &InjectExecKeepActive,
	"exec-no-activate":        &InjectExecNoActivate,
	"fork-no-flush":           &InjectForkNoFlush,
	"cow-no-flush":            &InjectCOWNoFlush,

	"refcount-exit-no-grab":  &InjectRefcountExitNoGrab,
	"refcount-no-drop":       &InjectRefcountNoDrop,
	"shootdown-cpumask":      &InjectShootdownCPUMask,
	"shoot-keep-active":      &InjectShootKeepActive,
	"shoot-no-leave":         &InjectShootNoLeave,
	"mmput-unlazy-late":      &InjectMMPutUnlazyLate,
	"loaded-mm-no-ipi":       &InjectLoadedMMNoIPI,
	"hazard-no-publish":      &InjectHazardNoPublish,
	"hazard-no-clear":        &InjectHazardNoClear,
	"exit-flush-no-backstop": &InjectExitFlushNoBackstop,
	"no-active-mm-no-scan":   &InjectNoActiveMMNoScan,
	"temporary-mm-no-leave":  &InjectTempMMNoLeave,
	"unuse-mm-no-mmput":      &InjectUnuseMMNoMMPut,
	"exit-mm-no-handoff":     &InjectExitMMNoHandoff,
	"nmi-no-uaccess-check":   &InjectNMINoUaccessCheck,
	"membarrier-no-ipi-mb":   &InjectMembarrierNoIPIMB,
	"membarrier-curr-plain":  &InjectMembarrierCurrPlain,
	"membarrier-lazy-no-mb":  &InjectMembarrierLazyNoMB,

	"hazard-ref-no-convert":  &InjectHazardRefNoConvert,
	"hazard-ref-drop-in-use": &InjectHazardRefDropInUse,
	"loaded-mm-keep-active":  &InjectLoadedMMKeepActive,
	"shootdown-all-not-self": &InjectShootAllNotSelf,

	"hotplug-no-idle-exit":  &InjectHotplugNoIdleExit,
	"hotplug-drop-early":    &InjectHotplugDropEarly,
	"idle-leave-no-switch":  &InjectIdleLeaveNoSwitch,
	"rt-mmdrop-drain-twice": &InjectRTDrainTwice,
}

// SetInjection turns on the engine's bug of this name; names of other layers' bugs are theirs.
func SetInjection(name string) {
	if p, ok := injections[name]; ok {
		*p = true
	}
}
