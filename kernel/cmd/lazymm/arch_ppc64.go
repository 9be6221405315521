package main

import _ "lazymm/arch/ppc64" // the boot stub (docs/PPC64.md); the hosted runtime is not ported yet
