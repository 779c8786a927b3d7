//go:build !(linux && (amd64 || arm64))

package main

// SysV message queues are measured on Linux amd64 and arm64 only (see
// bench_sysvmsg_linux.go); elsewhere the transport is simply absent.
