package main

import _ "lazymm/arch/ppc64" // registers the bare-metal machine when booted by the ppc64 stub (docs/PPC64.md)
