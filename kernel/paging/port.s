// This file lets port.go declare the functions each arch package provides without a body.
