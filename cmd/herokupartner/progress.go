package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// isTerminal reports whether w is a character device. The standard
// library cannot tell a terminal from other character devices such as
// /dev/null, but a progress bar sent there is harmless.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressBar draws "[#####.....]  50/100" on one line of standard error,
// redrawn in place.
type progressBar struct {
	// mu orders the batch's progress calls and the failure lines printed
	// between windows, which share standard error.
	mu      sync.Mutex
	w       io.Writer
	shown   int // last percentage drawn, to redraw only on change
	drawn   bool
	lastLen int
}

const barWidth = 30

// update draws done of total; a total of 0 means unknown (a lenient run
// streams its input without counting it first), and then only the count
// is drawn, every 100 items.
func (p *progressBar) update(done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if total <= 0 {
		if done%100 != 0 {
			return
		}
		line := fmt.Sprintf("%d resolved", done)
		p.lastLen, p.drawn = len(line), true
		fmt.Fprint(p.w, "\r"+line)
		return
	}
	pct := done * 100 / total
	if p.drawn && pct == p.shown && done != total {
		return
	}
	p.shown, p.drawn = pct, true
	filled := done * barWidth / total
	line := fmt.Sprintf("[%s%s] %*d/%d", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), len(fmt.Sprint(total)), done, total)
	p.lastLen = len(line)
	fmt.Fprint(p.w, "\r"+line)
}

// clear erases the bar so that what follows starts on a clean line; the
// next update draws it again.
func (p *progressBar) clear() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
}

// above runs print, which writes to the bar's stream, with the bar
// erased, so that its lines do not mix with the bar.
func (p *progressBar) above(print func()) {
	if p == nil {
		print()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
	print()
}

func (p *progressBar) erase() {
	if p.drawn {
		p.drawn = false
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.lastLen))
	}
}
