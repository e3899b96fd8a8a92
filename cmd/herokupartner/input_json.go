package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// jsonEntry decodes one JSON resource: a uuid string, or an object with
// any of the accepted field names.
type jsonEntry struct {
	uuid, token string
}

func (j *jsonEntry) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte(`"`)) {
		return json.Unmarshal(b, &j.uuid)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return &jsonEntryError{"want a uuid string or an object"}
	}
	pick := func(names []string) (string, error) {
		for _, n := range names {
			for k, v := range fields {
				if strings.EqualFold(k, n) {
					var s string
					if err := json.Unmarshal(v, &s); err != nil {
						// n, not k: k is input, n is ours.
						return "", &jsonEntryError{"field " + n + " is not a string"}
					}
					return s, nil
				}
			}
		}
		return "", nil
	}
	var err error
	if j.uuid, err = pick(uuidNames); err != nil {
		return err
	}
	if j.uuid == "" {
		return &jsonEntryError{"no uuid field (one of " + strings.Join(uuidNames, ", ") + ")"}
	}
	j.token, err = pick(tokenNames)
	return err
}

// toEntry turns a decoded item, or the error decoding it, into an entry.
func (j jsonEntry) toEntry(where string, err error) entry {
	e := entry{where: where}
	if err != nil {
		e.problem = jsonProblem(err)
		return e
	}
	e.uuid, e.problem = checkUUID(j.uuid)
	e.token = strings.TrimSpace(j.token)
	return e
}

// jsonArraySource streams the items of one JSON array.
type jsonArraySource struct {
	dec     *json.Decoder
	name    string
	n       int
	started bool
	done    bool
}

func (s *jsonArraySource) next() (entry, error) {
	if s.done {
		return entry{}, io.EOF
	}
	if !s.started {
		s.started = true
		if _, err := s.dec.Token(); err != nil { // the '[' seen when sniffing
			return entry{}, usagef("--from %s: %s", s.name, jsonProblem(err))
		}
	}
	if !s.dec.More() {
		s.done = true
		if _, err := s.dec.Token(); err != nil {
			return entry{}, usagef("--from %s after item %d: %s", s.name, s.n, jsonProblem(err))
		}
		if _, err := s.dec.Token(); err != io.EOF {
			return entry{}, usagef("--from %s: data after the JSON array", s.name)
		}
		return entry{}, io.EOF
	}
	s.n++
	var j jsonEntry
	err := s.dec.Decode(&j)
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
		// The decoder cannot find the next item after broken syntax.
		s.done = true
		return entry{}, usagef("--from %s item %d: %s", s.name, s.n, jsonProblem(err))
	}
	return j.toEntry(fmt.Sprintf("%s item %d", s.name, s.n), err), nil
}

// jsonLinesSource reads one JSON object (or uuid string) per line, so a
// broken line spoils only itself.
type jsonLinesSource struct {
	lines *bufio.Scanner
	name  string
	n     int
}

func (s *jsonLinesSource) next() (entry, error) {
	for s.lines.Scan() {
		s.n++
		line := bytes.TrimSpace(s.lines.Bytes())
		if len(line) == 0 {
			continue
		}
		var j jsonEntry
		err := json.Unmarshal(line, &j)
		return j.toEntry(fmt.Sprintf("%s line %d", s.name, s.n), err), nil
	}
	if err := s.lines.Err(); err != nil {
		return entry{}, usagef("--from %s after line %d: %s", s.name, s.n, ioProblem(err))
	}
	return entry{}, io.EOF
}

// jsonProblem describes a decoding error without quoting the input (the
// standard library's type errors quote numbers).
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("unexpected JSON type at byte %d", te.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "JSON ends early"
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return ue.msg
	}
	// Our own UnmarshalJSON messages, which name fields, never values;
	// any other error is described only by its kind.
	var ours *jsonEntryError
	if errors.As(err, &ours) {
		return ours.msg
	}
	return "malformed JSON item"
}

// jsonEntryError is a problem jsonEntry found in an item.
type jsonEntryError struct{ msg string }

func (e *jsonEntryError) Error() string { return e.msg }
