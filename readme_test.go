package herokupartner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// snippetFiles hold the README's Go snippets, each between a
// "// readme:begin NAME" and a "// readme:end" line, inside code the
// compiler checks. The pgstore and rediscache snippets live in their own
// modules, since the root module cannot import them.
var snippetFiles = []string{
	"readme_snippets_test.go",
	filepath.Join("pgstore", "readme_snippets_test.go"),
	filepath.Join("rediscache", "readme_snippets_test.go"),
}

type snippet struct {
	where string // file:line of its first line, or its name
	text  string
}

// TestREADMESnippets fails when a Go snippet of README.md is not, verbatim
// but for indentation, one of the compiled copies in snippetFiles, or when
// a copy is no longer in the README: every snippet a reader sees compiles.
func TestREADMESnippets(t *testing.T) {
	readme := readFile(t, "README.md")
	blocks := goBlocks(readme)
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```go block: the extraction is broken")
	}
	var copies []snippet
	for _, f := range snippetFiles {
		copies = append(copies, regions(t, f, readFile(t, f))...)
	}
	used := make([]bool, len(copies))
	for _, b := range blocks {
		found := false
		for i, c := range copies {
			if !used[i] && c.text == b.text {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("the ```go block at README.md:%s has no identical compiled copy; %s", b.where, closest(b, copies))
		}
	}
	for i, c := range copies {
		if !used[i] {
			t.Errorf("the snippet %s is in no ```go block of README.md: update or delete it", c.where)
		}
	}
}

// goBlocks returns the ```go fenced blocks of a markdown text.
func goBlocks(md string) []snippet {
	var out []snippet
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```go" {
			continue
		}
		start := i + 1
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
		}
		out = append(out, snippet{where: strconv.Itoa(start + 1), text: normalize(lines[start:min(i, len(lines))], "")})
	}
	return out
}

// regions returns the snippets marked in a Go source file, each without
// the indentation of its begin marker.
func regions(t *testing.T, name, src string) []snippet {
	var out []snippet
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		label, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "// readme:begin ")
		if !ok {
			continue
		}
		indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], "\t "))]
		start := i + 1
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "// readme:end"; i++ {
		}
		if i == len(lines) {
			t.Fatalf("%s:%d: readme:begin %s has no readme:end", name, start, label)
		}
		out = append(out, snippet{where: name + ":" + strconv.Itoa(start+1) + " (" + label + ")", text: normalize(lines[start:i], indent)})
	}
	return out
}

// normalize strips indent from each line and blank lines at either end.
func normalize(lines []string, indent string) string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		out = append(out, strings.TrimRight(strings.TrimPrefix(l, indent), " \t"))
	}
	for len(out) > 0 && out[0] == "" {
		out = out[1:]
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n")
}

// closest names the compiled copy sharing the block's first line, and the
// first line where they part, so a drifted snippet is quick to find.
func closest(b snippet, copies []snippet) string {
	first, _, _ := strings.Cut(b.text, "\n")
	for _, c := range copies {
		if cf, _, _ := strings.Cut(c.text, "\n"); cf != first {
			continue
		}
		bl, cl := strings.Split(b.text, "\n"), strings.Split(c.text, "\n")
		for i := range max(len(bl), len(cl)) {
			var x, y string
			if i < len(bl) {
				x = bl[i]
			}
			if i < len(cl) {
				y = cl[i]
			}
			if x != y {
				return "closest is " + c.where + ", which differs at the block's line " + strconv.Itoa(i+1) +
					":\nREADME: " + strconv.Quote(x) + "\ncopy:   " + strconv.Quote(y)
			}
		}
	}
	return "copy it into one of " + strings.Join(snippetFiles, ", ") + " between readme:begin and readme:end lines"
}

// TestREADMEWiringRuns runs the README's wiring snippet against the fake:
// exchange, a client bound to the resource, and a lookup that must
// refresh an expired token on the way.
func TestREADMEWiringRuns(t *testing.T) {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	addon := fake.AddAddon(fake.AddApp("shop").ID, "basic")
	readmeWiring(t, fake, addon)
}

// TestREADMEOwnHandlerAnswers sends the README's own provisioning handler
// what Heroku sends and checks each answer is the JSON the README says.
func TestREADMEOwnHandlerAnswers(t *testing.T) {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	addon := fake.AddAddon(fake.AddApp("shop").ID, "basic")
	tokens, err := herokupartner.NewTokenManager(fake.TokenManagerConfig())
	if err != nil {
		t.Fatal(err)
	}
	api, err := herokupartner.NewClient(fake.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	p, err := herokupartner.NewProvisioner(herokupartner.ProvisionerConfig{Tokens: tokens, API: api,
		Provision: func(context.Context, *herokupartner.ProvisionRequest, *herokupartner.Resolution) (herokupartner.ProvisionResult, error) {
			return herokupartner.ProvisionResult{}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	readmeOwnHandler(mux, p)
	post := func(body string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/heroku/resources", strings.NewReader(body)))
		var got map[string]any
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("answer %d has Content-Type %q, want application/json", rec.Code, ct)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Errorf("answer %d is not JSON: %v", rec.Code, err)
		}
		return rec.Code, got
	}
	code, _ := fake.IssueGrant(addon.ID)
	request := fmt.Sprintf(`{"uuid":%q,"oauth_grant":{"code":%q,"type":"authorization_code"}}`, addon.ID, code)

	status, got := post(request)
	if status != http.StatusAccepted || got["id"] != addon.ID.String() || got["message"] == nil || got["config"] != nil {
		t.Errorf("provisioning answered %d %v; want 202 with id, message and no config", status, got)
	}
	if status, got := post(`{"uuid": 42}`); status != http.StatusBadRequest || got["message"] == nil || got["id"] != nil {
		t.Errorf("a bad request answered %d %v; want 400 with a message only", status, got)
	}
	if err := p.Deprovision(context.Background(), addon.ID); err != nil {
		t.Fatal(err)
	}
	if status, got := post(request); status != http.StatusGone || got["message"] == nil {
		t.Errorf("a late redelivery answered %d %v; want 410 with a message", status, got)
	}
}

// TestREADMELinks fails on a link to a heading or a file of the repository
// that does not exist, so sections can be renamed and files moved safely.
func TestREADMELinks(t *testing.T) {
	anchors := map[string]bool{}
	var prose []string // the lines outside fenced blocks
	fenced := false
	for _, line := range strings.Split(readFile(t, "README.md"), "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			fenced = !fenced
		case fenced:
		case strings.HasPrefix(line, "#"):
			anchors[slug(strings.TrimLeft(line, "# "))] = true
		default:
			prose = append(prose, line)
		}
	}
	for _, m := range mdLink.FindAllStringSubmatch(strings.Join(prose, "\n"), -1) {
		target := m[1]
		switch {
		case strings.Contains(target, "://"):
		case strings.HasPrefix(target, "#"):
			if !anchors[target[1:]] {
				t.Errorf("README.md links to %s, which is no heading", target)
			}
		default:
			if _, err := os.Stat(filepath.FromSlash(target)); err != nil {
				t.Errorf("README.md links to %s: %v", target, err)
			}
		}
	}
}

// mdLink matches a markdown link or image and captures its target.
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// slug is GitHub's anchor for a heading: lower case, spaces to hyphens,
// punctuation other than hyphens and underscores dropped.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestREADMEResolveOutput keeps the README's "go run ./examples/resolve"
// output equal to the output examples/resolve's own test asserts.
func TestREADMEResolveOutput(t *testing.T) {
	readme := readFile(t, "README.md")
	const cmd = "$ go run ./examples/resolve\n"
	_, after, ok := strings.Cut(readme, cmd)
	if !ok {
		t.Fatalf("README.md no longer shows %q", cmd)
	}
	shown, _, ok := strings.Cut(after, "```")
	if !ok {
		t.Fatal("README.md: the output block of examples/resolve does not end")
	}
	want := stringConst(t, filepath.Join("examples", "resolve", "main_test.go"), "wantDemo")
	if shown != want {
		t.Errorf("README.md shows another output of examples/resolve than its test asserts:\nREADME:\n%s\ntest:\n%s", shown, want)
	}
}

// stringConst returns the value of a string constant declared in a Go file.
func stringConst(t *testing.T, file, name string) string {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if n.Name != name || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s: %s is not a string literal", file, name)
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
		}
	}
	t.Fatalf("%s declares no constant %s", file, name)
	return ""
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
