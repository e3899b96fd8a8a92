// Command modproxy writes a file-based Go module proxy (for GOPROXY=file://)
// holding one module of this repository at one commit, built from `git
// archive` as the public proxy builds it from the repository. CI uses it to
// check, offline, that a module's requirement on another module of this
// repository resolves to a commit that has everything the requiring module
// uses, and that its go.sum holds that version's real checksums.
//
//	go run ./.ci/modproxy -dir DIR -module PATH -subdir SUBDIR -commit HASH -version VERSION
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	dir := flag.String("dir", "", "proxy directory to write into")
	module := flag.String("module", "", "module path")
	subdir := flag.String("subdir", "", "the module's directory in the repository (empty for the root)")
	commit := flag.String("commit", "", "full commit hash")
	version := flag.String("version", "", "module version to publish the commit as")
	flag.Parse()
	if *dir == "" || *module == "" || *commit == "" || *version == "" {
		fmt.Fprintln(os.Stderr, "modproxy: -dir, -module, -commit and -version are required")
		os.Exit(2)
	}
	if err := build(*dir, *module, strings.Trim(*subdir, "/"), *commit, *version); err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
}

func build(dir, module, subdir, commit, version string) error {
	files, err := archive(commit)
	if err != nil {
		return err
	}
	prefix := ""
	if subdir != "" {
		prefix = subdir + "/"
	}
	gomod, ok := files[prefix+"go.mod"]
	if !ok {
		return fmt.Errorf("commit %s has no %sgo.mod", commit, prefix)
	}
	// A directory holding its own go.mod is another module: the module
	// zip leaves it out, as cmd/go does.
	nested := map[string]bool{}
	for name := range files {
		if path.Base(name) == "go.mod" && name != prefix+"go.mod" && strings.HasPrefix(name, prefix) {
			nested[path.Dir(name)+"/"] = true
		}
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		if !strings.HasPrefix(name, prefix) || excluded(name, nested) {
			continue
		}
		w, err := zw.Create(module + "@" + version + "/" + strings.TrimPrefix(name, prefix))
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	t, err := commitTime(commit)
	if err != nil {
		return err
	}
	info, _ := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, t})
	at := filepath.Join(dir, filepath.FromSlash(escape(module)), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		version + ".info": info, version + ".mod": gomod, version + ".zip": buf.Bytes(),
		"list": []byte(version + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(at, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// excluded applies the module zip's rules: no files of nested modules, no
// vendor trees, no version-control metadata.
func excluded(name string, nested map[string]bool) bool {
	for d := range nested {
		if strings.HasPrefix(name, d) {
			return true
		}
	}
	for _, part := range strings.Split(path.Dir(name), "/") {
		if part == "vendor" || part == ".git" || part == ".hg" || part == ".svn" || part == ".bzr" {
			return true
		}
	}
	return false
}

// archive returns the regular files of the commit's tree as `git archive`
// exports them.
func archive(commit string) (map[string][]byte, error) {
	out, err := exec.Command("git", "archive", "--format=tar", commit).Output()
	if err != nil {
		return nil, fmt.Errorf("git archive %s: %w", commit, err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue // directories, symlinks and the pax header
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		files[h.Name] = data
	}
}

func commitTime(commit string) (time.Time, error) {
	out, err := exec.Command("git", "show", "-s", "--format=%cI", commit).Output()
	if err != nil {
		return time.Time{}, fmt.Errorf("git show %s: %w", commit, err)
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(out)))
	return t.UTC(), err
}

// escape applies the module cache's case encoding: an upper-case letter
// becomes '!' and its lower-case form.
func escape(module string) string {
	var b strings.Builder
	for _, r := range module {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
