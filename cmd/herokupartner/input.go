package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"
)

// maxBuffered bounds what is held in memory when standard input must be
// read twice (a strict run from a pipe): a million resources with tokens
// fit. Files and lenient runs are streamed and have no such bound.
const maxBuffered = 256 << 20

// maxLine bounds one line or CSV record of --from input.
const maxLine = 1 << 20

// sniffSize is how much of the input is looked at to tell its form.
const sniffSize = 64 << 10

// entry is one resource to resolve, with its own token if the input gave
// one, and where it came from for error messages. A non-empty problem
// marks a malformed row: it says what is wrong without quoting the row.
type entry struct {
	uuid    string
	token   string
	where   string
	problem string
}

// source yields entries in input order, then io.EOF. A malformed row is
// an entry with a problem; an error means the rest cannot be read (broken
// JSON structure, an unreadable file) and is a *usageError.
type source interface {
	next() (entry, error)
}

// Column names accepted in a CSV header or as JSON fields.
var (
	uuidNames  = []string{"uuid", "resource_uuid", "resource_id", "addon_id", "id"}
	tokenNames = []string{"token", "access_token", "oauth_token"}
)

// sliceSource yields entries already in memory: arguments, the demo's.
type sliceSource struct{ entries []entry }

func (s *sliceSource) next() (entry, error) {
	if len(s.entries) == 0 {
		return entry{}, io.EOF
	}
	e := s.entries[0]
	s.entries = s.entries[1:]
	return e, nil
}

// concatSource yields each source's entries in turn.
type concatSource []source

func (c *concatSource) next() (entry, error) {
	for len(*c) > 0 {
		e, err := (*c)[0].next()
		if err != io.EOF {
			return e, err
		}
		*c = (*c)[1:]
	}
	return entry{}, io.EOF
}

// newSource reads --from input in any of the forms the usage text lists,
// telling them apart by the first bytes, and streams it: nothing but the
// current row is kept.
func newSource(r io.Reader, name string) (source, error) {
	br := bufio.NewReaderSize(r, sniffSize)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	head, err := br.Peek(sniffSize)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, usagef("--from %s: cannot read: %s", name, ioProblem(err))
	}
	trimmed := bytes.TrimSpace(head)
	switch {
	case len(trimmed) == 0:
		return &sliceSource{}, nil
	case trimmed[0] == '[':
		return &jsonArraySource{dec: json.NewDecoder(br), name: name}, nil
	case trimmed[0] == '{':
		return &jsonLinesSource{lines: newScanner(br), name: name}, nil
	case bytes.ContainsRune(firstDataLine(head), ','):
		cr := csv.NewReader(br)
		cr.Comment = '#'
		cr.FieldsPerRecord = -1
		cr.TrimLeadingSpace = true
		cr.ReuseRecord = true
		return &csvSource{r: cr, name: name}, nil
	}
	return &lineSource{lines: newScanner(br), name: name}, nil
}

func newScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	return sc
}

func firstDataLine(data []byte) []byte {
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return line
		}
	}
	return nil
}

// ioProblem describes a read error without the file name the os package
// puts in it.
func ioProblem(err error) string {
	if errors.Is(err, bufio.ErrTooLong) {
		return fmt.Sprintf("a line is longer than %d KiB", maxLine>>10)
	}
	var pe interface{ Unwrap() error }
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		return pe.Unwrap().Error()
	}
	return err.Error()
}

// checkUUID returns the canonical form of s, or a problem that gives its
// length but not its content.
func checkUUID(s string) (id, problem string) {
	u, err := uuid.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Sprintf("not a resource UUID (%d characters)", len(s))
	}
	return u.String(), ""
}

// lineSource reads one uuid per line; blank lines, # comments and a first
// line naming the uuid column are skipped.
type lineSource struct {
	lines   *bufio.Scanner
	name    string
	n       int
	started bool
}

func (s *lineSource) next() (entry, error) {
	for s.lines.Scan() {
		s.n++
		line := strings.TrimSpace(s.lines.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !s.started {
			s.started = true
			// A one-column CSV export: its header names the column.
			if indexOf([]string{line}, uuidNames) == 0 {
				continue
			}
		}
		e := entry{where: fmt.Sprintf("%s line %d", s.name, s.n)}
		e.uuid, e.problem = checkUUID(line)
		return e, nil
	}
	if err := s.lines.Err(); err != nil {
		return entry{}, usagef("--from %s after line %d: %s", s.name, s.n, ioProblem(err))
	}
	return entry{}, io.EOF
}

// csvSource reads CSV with a header naming the columns, or uuid[,token]
// rows without one. Rows are counted as records, the header included.
type csvSource struct {
	r                 *csv.Reader
	name              string
	row               int
	started           bool
	uuidCol, tokenCol int
}

func (s *csvSource) next() (entry, error) {
	for {
		rec, err := s.r.Read()
		if err == io.EOF {
			return entry{}, io.EOF
		}
		s.row++
		where := fmt.Sprintf("%s row %d", s.name, s.row)
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return entry{where: where, problem: fmt.Sprintf("malformed CSV on line %d", pe.StartLine)}, nil
		} else if err != nil {
			return entry{}, usagef("--from %s at row %d: %s", s.name, s.row, ioProblem(err))
		}
		if !s.started {
			s.started = true
			if isHeader, err := s.header(rec); err != nil || isHeader {
				if err != nil {
					return entry{}, err
				}
				continue
			}
		}
		if s.uuidCol >= len(rec) {
			return entry{where: where, problem: "no uuid column"}, nil
		}
		e := entry{where: where}
		e.uuid, e.problem = checkUUID(rec[s.uuidCol])
		if s.tokenCol >= 0 && s.tokenCol < len(rec) {
			e.token = strings.TrimSpace(rec[s.tokenCol])
		}
		return e, nil
	}
}

// header reads the column layout from the first record, reporting
// whether that record was a header.
func (s *csvSource) header(rec []string) (bool, error) {
	s.uuidCol, s.tokenCol = 0, 1
	if _, err := uuid.Parse(strings.TrimSpace(rec[0])); err == nil {
		if len(rec) > 2 {
			return false, usagef("--from %s: CSV without a header must have the columns uuid[,token]; add a header naming them", s.name)
		}
		return false, nil
	}
	s.uuidCol, s.tokenCol = indexOf(rec, uuidNames), indexOf(rec, tokenNames)
	if s.uuidCol < 0 {
		return true, usagef("--from %s: the CSV header names no uuid column (one of %s)", s.name, strings.Join(uuidNames, ", "))
	}
	return true, nil
}

func indexOf(header []string, names []string) int {
	for _, want := range names {
		for i, h := range header {
			if strings.EqualFold(strings.TrimSpace(h), want) {
				return i
			}
		}
	}
	return -1
}
