package main

import _ "lazymm/arch/amd64" // registers the bare-metal machine when booted by boot32
