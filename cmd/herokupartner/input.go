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

// maxInput bounds what --from reads: a million resources with tokens fit.
const maxInput = 256 << 20

// entry is one resource to resolve, with its own token if the input gave
// one, and where it came from for error messages.
type entry struct {
	uuid  string
	token string
	where string
}

// Column names accepted in a CSV header or as JSON fields.
var (
	uuidNames  = []string{"uuid", "resource_uuid", "resource_id", "addon_id", "id"}
	tokenNames = []string{"token", "access_token", "oauth_token"}
)

// parseEntries reads --from input in any of the forms the usage text
// lists, telling them apart by content. Error messages name lines and
// columns but never echo values, which may be tokens.
func parseEntries(r io.Reader, name string) ([]entry, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, usagef("--from %s: %v", name, err)
	}
	if len(data) > maxInput {
		return nil, usagef("--from %s: larger than %d MiB", name, maxInput>>20)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimSpace(data)
	var entries []entry
	switch {
	case len(trimmed) == 0:
		return nil, nil
	case trimmed[0] == '[' || trimmed[0] == '{':
		entries, err = parseJSON(data, name)
	case bytes.ContainsRune(firstDataLine(data), ','):
		entries, err = parseCSV(data, name)
	default:
		entries, err = parseLines(data, name)
	}
	if err != nil {
		return nil, err
	}
	return entries, nil
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

func checkUUID(s, where string) (string, error) {
	id, err := uuid.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", usagef("%s: not a resource UUID (%d characters)", where, len(s))
	}
	return id.String(), nil
}

func parseLines(data []byte, name string) ([]entry, error) {
	var entries []entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxInput)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := fmt.Sprintf("%s line %d", name, n)
		id, err := checkUUID(line, where)
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry{uuid: id, where: where})
	}
	if err := sc.Err(); err != nil {
		return nil, usagef("--from %s: %v", name, err)
	}
	return entries, nil
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

func parseCSV(data []byte, name string) ([]entry, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	records, err := cr.ReadAll()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, usagef("--from %s line %d: malformed CSV: %v", name, pe.Line, pe.Err)
		}
		return nil, usagef("--from %s: %v", name, err)
	}
	if len(records) == 0 {
		return nil, nil
	}
	uuidCol, tokenCol, first := 0, 1, 0
	if _, err := uuid.Parse(strings.TrimSpace(records[0][0])); err != nil {
		// A header row names the columns.
		uuidCol, tokenCol = indexOf(records[0], uuidNames), indexOf(records[0], tokenNames)
		if uuidCol < 0 {
			return nil, usagef("--from %s: the CSV header names no uuid column (one of %s)", name, strings.Join(uuidNames, ", "))
		}
		first = 1
	} else if len(records[0]) > 2 {
		return nil, usagef("--from %s: CSV without a header must have the columns uuid[,token]; add a header naming them", name)
	}
	var entries []entry
	for i, rec := range records[first:] {
		where := fmt.Sprintf("%s row %d", name, first+i+1)
		if uuidCol >= len(rec) {
			return nil, usagef("%s: no uuid column", where)
		}
		id, err := checkUUID(rec[uuidCol], where)
		if err != nil {
			return nil, err
		}
		e := entry{uuid: id, where: where}
		if tokenCol >= 0 && tokenCol < len(rec) {
			e.token = strings.TrimSpace(rec[tokenCol])
		}
		entries = append(entries, e)
	}
	return entries, nil
}

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
		return errors.New("want a uuid string or an object")
	}
	pick := func(names []string) (string, error) {
		for _, n := range names {
			for k, v := range fields {
				if strings.EqualFold(k, n) {
					var s string
					if err := json.Unmarshal(v, &s); err != nil {
						return "", fmt.Errorf("field %q is not a string", k)
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
		return fmt.Errorf("no uuid field (one of %s)", strings.Join(uuidNames, ", "))
	}
	j.token, err = pick(tokenNames)
	return err
}

func parseJSON(data []byte, name string) ([]entry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var list []jsonEntry
	if bytes.TrimSpace(data)[0] == '[' {
		if err := dec.Decode(&list); err != nil {
			return nil, usagef("--from %s: %s", name, jsonProblem(err))
		}
		if dec.More() {
			return nil, usagef("--from %s: data after the JSON array", name)
		}
	} else {
		for dec.More() {
			var e jsonEntry
			if err := dec.Decode(&e); err != nil {
				return nil, usagef("--from %s: object %d: %s", name, len(list)+1, jsonProblem(err))
			}
			list = append(list, e)
		}
	}
	entries := make([]entry, 0, len(list))
	for i, e := range list {
		where := fmt.Sprintf("%s item %d", name, i+1)
		id, err := checkUUID(e.uuid, where)
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry{uuid: id, token: strings.TrimSpace(e.token), where: where})
	}
	return entries, nil
}

// jsonProblem describes a decoding error without quoting the input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("unexpected JSON %s at byte %d", te.Value, te.Offset)
	}
	return err.Error()
}
