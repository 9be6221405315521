// Command seconds prints a Go duration (90s, 10m, 1h) in whole seconds, for shell scripts.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: seconds DURATION")
		os.Exit(2)
	}
	d, err := time.ParseDuration(os.Args[1])
	if err != nil || d <= 0 {
		fmt.Fprintf(os.Stderr, "seconds: %q is not a positive duration (e.g. 90s, 10m, 1h)\n", os.Args[1])
		os.Exit(2)
	}
	fmt.Println(int(d.Seconds() + 0.999))
}
