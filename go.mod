module lazymm

go 1.26.2

require (
	github.com/hashicorp/go-multierror v1.1.1
	github.com/usbarmory/tamago v1.26.2
	golang.org/x/arch v0.23.0
)

require github.com/hashicorp/errwrap v1.0.0 // indirect
