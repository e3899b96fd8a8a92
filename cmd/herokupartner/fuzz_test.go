package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// canaryCore is the part of canary no message may contain.
const canaryCore = "Zq9X7vKp"

// insertCanary puts the canary inside the fuzzer's data, where a token
// pasted by mistake would be.
func insertCanary(data []byte, at uint16) []byte {
	i := int(at) % (len(data) + 1)
	out := append([]byte{}, data[:i]...)
	out = append(out, canary...)
	return append(out, data[i:]...)
}

// FuzzFromInput checks that the --from reader never panics, always ends,
// yields only canonical UUIDs, and never quotes the input in a problem or
// an error.
func FuzzFromInput(f *testing.F) {
	id := uuid.NewString()
	for _, s := range []string{
		"", "\xef\xbb\xbf" + id + "\n", "# c\n" + id + "\n\n", "uuid,token\n" + id + ",t\n", id + ",t\n",
		"id;token\n", `"a,b`, "uuid,token\n\"x\"y,t\n", `[{"uuid":"` + id + `","token":"t"}]`, `["` + id + `", 12, {"id": 3}]`,
		`{"uuid":"` + id + `"}` + "\n{\n", "[", "[]]", `[{"uuid": "x"`, "{\"UUID\":1}", strings.Repeat("[", 100),
	} {
		f.Add([]byte(s), uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, at uint16) {
		in := insertCanary(data, at)
		src, err := newSource(bytes.NewReader(in), "standard input")
		if err != nil {
			noCanary(t, err.Error())
			return
		}
		for range len(in) + 2 {
			e, err := src.next()
			if err == io.EOF {
				return
			}
			if err != nil {
				noCanary(t, err.Error())
				return
			}
			noCanary(t, e.where+e.problem+(&rowError{e.where, e.problem}).Error())
			if e.problem == "" {
				if u, err := uuid.Parse(e.uuid); err != nil || u.String() != e.uuid {
					t.Fatalf("entry without a problem has a non-canonical uuid")
				}
			}
		}
		t.Fatal("the reader yields more entries than the input has bytes")
	})
}

// FuzzArgs checks that argument parsing never panics and never quotes an
// argument in an error. Arguments are the data split at NUL bytes.
func FuzzArgs(f *testing.F) {
	id := uuid.NewString()
	for _, s := range []string{
		"--json\x00" + id, "--\x00--json", "--concurrency\x00x", "--concurrency=", "-h", "--token", "--api-url\x00https://u:p@h",
		"--json=maybe", "---x", "-", "--progress\x00sometimes", "--lenient",
	} {
		f.Add([]byte(s), uint16(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, at uint16) {
		args := strings.Split(string(insertCanary(data, at)), "\x00")
		o := options{concurrency: 1, apiURL: "https://api.heroku.com", progress: "auto"}
		pos, err := parseFlags(resolveFlags(&o), args)
		if err != nil {
			noCanary(t, err.Error())
			return
		}
		if err := o.check(); err != nil {
			noCanary(t, err.Error())
		}
		if _, err := argEntries(pos); err != nil {
			noCanary(t, err.Error())
		}
	})
}

func noCanary(t *testing.T, msg string) {
	t.Helper()
	if strings.Contains(msg, canaryCore) {
		t.Fatalf("a message quotes the input (length %d)", len(msg))
	}
}
