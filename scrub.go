package herokupartner

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
)

// minScrubLen keeps scrubbing from blanking out common short words when a
// secret is implausibly short.
const minScrubLen = 4

// scrub removes every known encoding of each secret from s: the raw value,
// its URL query and path escapes (either hex case), its JSON-string escapes
// (with and without HTML escaping) and its base64 forms. It is the one
// sanitiser for text that came back from a server which saw the secrets.
func scrub(s string, secrets ...string) string {
	if s == "" {
		return s
	}
	for _, sec := range secrets {
		if len(sec) < minScrubLen {
			continue
		}
		for _, form := range encodings(sec) {
			if strings.Contains(s, form) {
				s = strings.ReplaceAll(s, form, redactedText)
			}
		}
		// Percent escapes may come in either hex case.
		if strings.Contains(s, "%") {
			s = scrubFold(s, url.QueryEscape(sec))
			s = scrubFold(s, url.PathEscape(sec))
		}
	}
	return s
}

// encodings lists the forms in which a secret can be echoed back.
func encodings(sec string) []string {
	forms := []string{sec, url.QueryEscape(sec), url.PathEscape(sec),
		base64.StdEncoding.EncodeToString([]byte(sec)),
		base64.RawStdEncoding.EncodeToString([]byte(sec)),
		base64.URLEncoding.EncodeToString([]byte(sec)),
		base64.RawURLEncoding.EncodeToString([]byte(sec))}
	if b, err := json.Marshal(sec); err == nil {
		forms = append(forms, string(b[1:len(b)-1]))
	}
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if enc.Encode(sec) == nil {
		t := strings.TrimSpace(sb.String())
		forms = append(forms, t[1:len(t)-1])
	}
	// Longest first, so a longer form is not cut into by a shorter one.
	for i := 1; i < len(forms); i++ {
		for j := i; j > 0 && len(forms[j]) > len(forms[j-1]); j-- {
			forms[j], forms[j-1] = forms[j-1], forms[j]
		}
	}
	return forms
}

// scrubFold replaces form in s ignoring ASCII case, for percent escapes
// whose hex digits a server may have lower-cased.
func scrubFold(s, form string) string {
	if len(form) < minScrubLen || !strings.Contains(form, "%") {
		return s
	}
	lower, lf := asciiLower(s), asciiLower(form)
	var b strings.Builder
	for {
		i := strings.Index(lower, lf)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(redactedText)
		s, lower = s[i+len(form):], lower[i+len(form):]
	}
}

// asciiLower lower-cases ASCII letters only, so byte offsets stay aligned
// with the original text.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
