package herokupartner

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// minScrubLen keeps scrubbing from blanking out common short words when a
// secret is implausibly short.
const minScrubLen = 4

// scrub removes every known encoding of each secret from s: the raw value;
// its URL and form escapes, whatever subset of characters the echoing
// server chose to escape and in either hex case; its JSON-string escapes
// (\uXXXX, \/, \" and \\); mixtures of these; and its base64 forms (standard
// and URL alphabets, padded or not, at any alignment inside a longer
// base64 text). It is the one sanitiser for text that came back from a
// server which saw the secrets, and runs only on error paths.
func scrub(s string, secrets ...string) string {
	if s == "" {
		return s
	}
	for _, sec := range secrets {
		if len(sec) < minScrubLen {
			continue
		}
		s = secretPattern(sec).ReplaceAllLiteralString(s, redactedText)
		if !utf8.ValidString(sec) {
			// A regexp cannot name invalid bytes; the raw and escaped forms
			// are replaced literally instead.
			for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
				s = strings.ReplaceAll(s, form, redactedText)
				s = strings.ReplaceAll(s, lowerEscapes(form), redactedText)
			}
		}
		for _, form := range base64Cores(sec) {
			s = strings.ReplaceAll(s, form, redactedText)
		}
	}
	return s
}

// secretPattern matches sec with each of its characters written raw,
// percent-escaped (either hex case), as a JSON \u escape (either hex case)
// or, where one exists, as its short JSON or form escape.
func secretPattern(sec string) *regexp.Regexp {
	var b strings.Builder
	for _, r := range sec {
		b.WriteString("(?:")
		b.WriteString(regexp.QuoteMeta(string(r)))
		var buf [utf8.UTFMax]byte
		n := utf8.EncodeRune(buf[:], r)
		b.WriteString("|")
		for _, c := range buf[:n] {
			b.WriteString("%" + hexPattern(uint32(c), 2))
		}
		if r <= 0xFFFF {
			b.WriteString(`|\\[uU]` + hexPattern(uint32(r), 4))
		}
		switch r {
		case ' ':
			b.WriteString(`|\+`)
		case '/':
			b.WriteString(`|\\/`)
		case '"':
			b.WriteString(`|\\"`)
		case '\\':
			b.WriteString(`|\\\\`)
		}
		b.WriteString(")")
	}
	// The pattern is built from escaped pieces only, so it always compiles.
	return regexp.MustCompile(b.String())
}

// lowerEscapes lower-cases the hex digits of the percent escapes in s.
func lowerEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = asciiLowerByte(b[i+1]), asciiLowerByte(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func asciiLowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hexPattern matches v written as width hex digits in either case.
func hexPattern(v uint32, width int) string {
	var b strings.Builder
	for _, c := range fmt.Sprintf("%0*x", width, v) {
		if c >= 'a' && c <= 'f' {
			b.WriteString("[" + string(c) + string(c-'a'+'A') + "]")
		} else {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// base64Cores returns, for each base64 alphabet and each of the three
// alignments sec can have inside a longer encoded text, the characters that
// encode sec's bits alone. Replacing them leaves at most two boundary
// characters, which carry a few bits and never the secret.
func base64Cores(sec string) []string {
	var cores []string
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		for k := range 3 {
			src := append(make([]byte, k), sec...)
			full := enc.EncodeToString(src)
			start := (8*k + 5) / 6
			end := 8 * len(src) / 6
			if end-start >= minScrubLen {
				cores = append(cores, full[start:end])
			}
		}
	}
	return cores
}
