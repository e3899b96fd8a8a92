package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// errHelp asks for the usage text: -h or --help among the flags.
var errHelp = errors.New("help requested")

// flagDef is one flag of a command. Exactly one of b, s and n is set.
type flagDef struct {
	name string
	arg  string // placeholder shown in the usage text; "" for a switch
	help string
	b    *bool
	s    *string
	n    *int
}

// positional is an argument that is not a flag, with its position on the
// command line (counted after the command name) for error messages.
type positional struct {
	value string
	pos   int
}

// parseFlags parses args against defs. It replaces the standard flag
// package, whose messages quote the offending value: a token pasted in
// the wrong place would end up in the terminal's scrollback. Every error
// here names the flag or the argument's position, never its content.
// Flags may follow positional arguments; "--" ends the flags.
func parseFlags(defs []flagDef, args []string) ([]positional, error) {
	var pos []positional
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			for j := i + 1; j < len(args); j++ {
				pos = append(pos, positional{args[j], j + 1})
			}
			return pos, nil
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, positional{a, i + 1})
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		if name == "h" || name == "help" {
			return nil, errHelp
		}
		d := findFlag(defs, name)
		if d == nil {
			return nil, usagef("argument %d is not a known flag", i+1)
		}
		if d.b != nil {
			if !hasValue {
				*d.b = true
				continue
			}
			v, err := strconv.ParseBool(value)
			if err != nil {
				return nil, usagef("flag --%s takes no value, or =true or =false", d.name)
			}
			*d.b = v
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, usagef("flag --%s needs a value", d.name)
			}
			i++
			value = args[i]
		}
		if d.n != nil {
			v, err := strconv.Atoi(value)
			if err != nil {
				return nil, usagef("flag --%s needs a whole number", d.name)
			}
			*d.n = v
			continue
		}
		*d.s = value
	}
	return pos, nil
}

func findFlag(defs []flagDef, name string) *flagDef {
	for i := range defs {
		if defs[i].name == name {
			return &defs[i]
		}
	}
	return nil
}

// flagUsage lists defs for the usage text.
func flagUsage(defs []flagDef) string {
	var b strings.Builder
	for _, d := range defs {
		head := "  --" + d.name
		if d.arg != "" {
			head += " " + d.arg
		}
		fmt.Fprintf(&b, "%s\n      %s\n", head, d.help)
	}
	return b.String()
}
