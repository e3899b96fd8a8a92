package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// unsafeRune reports whether r must not reach a terminal raw: C0 controls
// (ESC starts colour, cursor and title sequences; BEL, CR and backspace
// forge or hide text), DEL, C1 controls (0x9b is CSI on some terminals),
// and the Unicode bidi controls that reorder what is displayed.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f,
		r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// clean makes a server-provided string safe to print in one table cell or
// one line of standard error: every control and bidi character, tab and
// newline included, is written as a visible escape (\x1b, \u202e), and
// invalid UTF-8 as \xNN, so nothing the API sends can move the cursor,
// retitle the window, forge a line or reorder text.
func clean(s string) string {
	if !needsCleaning(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsCleaning(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r) || r == utf8.RuneError && size == 1 {
			return true
		}
		i += size
	}
	return false
}

// jsonSafe escapes in encoding/json output the characters it leaves raw
// but a terminal would act on: DEL, C1 controls and bidi controls (it
// already escapes C0 controls). They can occur only inside JSON strings,
// where \uXXXX means the same character, so the document decodes to the
// same values.
func jsonSafe(b []byte) []byte {
	if !needsCleaning(string(b)) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if unsafeRune(r) && r >= 0x20 {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}
