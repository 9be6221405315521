module lazymm

go 1.26.2

require (
	github.com/hashicorp/errwrap v1.0.0 // indirect
	github.com/hashicorp/go-multierror v1.1.1 // indirect
	github.com/usbarmory/tamago v1.26.2 // indirect
	golang.org/x/arch v0.23.0 // indirect
)
