package main

// The progress line a measuring child draws on the terminal.

import (
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// progressInterval is the least time between two progress updates.
const progressInterval = 100 * time.Millisecond

// progressLineCap is enough for any label and counts: the line is built in
// place, never grown.
const progressLineCap = 256

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), ioctlGetTermios)
	return err == nil
}

// progress overwrites one status line on a terminal, at most ten times a
// second, without allocating (it runs inside the measured loops).
type progress struct {
	label []byte
	line  []byte
	last  int64
}

func newProgress(label string) *progress {
	return &progress{label: []byte(label), line: make([]byte, 0, progressLineCap)}
}

func (p *progress) update(now int64, done, total int) {
	if now-p.last < int64(progressInterval) {
		return
	}
	p.last = now
	p.line = append(p.line[:0], "\r\x1b[K"...)
	p.line = append(p.line, p.label...)
	p.line = append(p.line, ' ')
	p.line = strconv.AppendInt(p.line, int64(done), 10)
	p.line = append(p.line, '/')
	p.line = strconv.AppendInt(p.line, int64(total), 10)
	p.line = append(p.line, " ("...)
	p.line = strconv.AppendInt(p.line, int64(done)*100/int64(total), 10)
	p.line = append(p.line, "%)"...)
	os.Stderr.Write(p.line)
}

func (p *progress) clear() { os.Stderr.Write([]byte("\r\x1b[K")) }
