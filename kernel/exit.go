package kernel

import "os"

func exitHosted(status int) { os.Exit(status) }
