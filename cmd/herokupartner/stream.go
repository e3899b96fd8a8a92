package main

import (
	"context"
	"fmt"
	"io"

	hp "github.com/addonkit/herokupartner"
)

// rowError is a malformed --from row in a --lenient run: that resource
// fails, nothing was sent for it.
type rowError struct{ where, problem string }

func (e *rowError) Error() string { return e.where + ": " + e.problem }

// windowSize is how many resources are read, resolved and printed at a
// time. Memory grows with it, not with the input: about 3 KB per resource
// in flight, and at most three windows live (one being read and resolved,
// one waiting, one being printed).
func windowSize(concurrency int) int { return max(1024, 4*concurrency) }

// window is one resolved window, or the error that ended the input.
type window struct {
	results []hp.BatchResult
	err     error
}

// stream resolves j's resources a window at a time with ResolvePipelines,
// which keeps input order within a window, and prints each window as soon
// as it is done while the next one resolves.
func stream(ctx context.Context, j *job, concurrency int, w resultWriter, stderr io.Writer, bar *progressBar) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	windows := make(chan window, 1)
	go func() {
		defer close(windows)
		produce(ctx, j, concurrency, bar, windows)
	}()
	var (
		sum     summary
		inErr   error
		writeEr error
	)
	for win := range windows {
		if win.err != nil {
			inErr = win.err
			continue
		}
		if writeEr != nil {
			continue // drain, so that the producer ends
		}
		if writeEr = w.window(win.results); writeEr != nil {
			cancel()
			continue
		}
		bar.above(func() {
			for _, r := range win.results {
				sum.add(toJSON(r).Status)
				if r.Err != nil || r.Resolution == nil {
					printFailure(stderr, r)
				}
			}
		})
	}
	bar.clear()
	if writeEr != nil {
		return fmt.Errorf("writing output: %w", writeEr)
	}
	if err := w.finish(sum); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if inErr != nil {
		// Input broken after the run began (--lenient): what came before
		// it was resolved and printed; the rest was not read.
		fmt.Fprintf(stderr, "herokupartner: %s; the rest of the input was not read\n", usageMessage(inErr))
	}
	if sum.Failed > 0 {
		fmt.Fprintf(stderr, "herokupartner: %d of %d resources failed\n", sum.Failed, sum.Total)
	}
	if sum.Failed > 0 || inErr != nil {
		return errSomeFailed
	}
	return nil
}

func usageMessage(err error) string {
	if ue, ok := err.(*usageError); ok {
		return ue.msg
	}
	return clean(err.Error())
}

// printFailure writes one failure line: the resource (or the row, for a
// malformed one) and the error with its request id, cleaned of anything a
// terminal would act on.
func printFailure(stderr io.Writer, r hp.BatchResult) {
	if r.Err == nil {
		fmt.Fprintf(stderr, "failed %s: no resolution\n", r.ResourceUUID)
		return
	}
	if re, ok := r.Err.(*rowError); ok {
		fmt.Fprintf(stderr, "failed %s\n", re.Error())
		return
	}
	fmt.Fprintf(stderr, "failed %s: %s\n", r.ResourceUUID, clean(describeError(r.Err)))
}

// produce reads, resolves and sends windows until the input ends.
func produce(ctx context.Context, j *job, concurrency int, bar *progressBar, out chan<- window) {
	size := windowSize(concurrency)
	done := 0
	for {
		entries, err := readWindow(j.src, size)
		if len(entries) > 0 {
			rs := resolveWindow(ctx, j.base, entries, concurrency, bar, done, j.total)
			done += len(rs)
			out <- window{results: rs}
		}
		if err != nil {
			if err != io.EOF {
				out <- window{err: err}
			}
			return
		}
		if ctx.Err() != nil {
			// Interrupted: every further window would only fail.
			out <- window{err: fmt.Errorf("interrupted (%w) after %d resources", ctx.Err(), done)}
			return
		}
	}
}

func readWindow(src source, size int) ([]entry, error) {
	entries := make([]entry, 0, size)
	for len(entries) < size {
		e, err := src.next()
		if err != nil {
			return entries, err
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// resolveWindow resolves one window's well-formed entries in one batch and
// turns malformed ones into failed results in place.
func resolveWindow(ctx context.Context, base *hp.Client, entries []entry, concurrency int, bar *progressBar, done, total int) []hp.BatchResult {
	results := make([]hp.BatchResult, len(entries))
	items := make([]hp.BatchItem, 0, len(entries))
	at := make([]int, 0, len(entries))
	for i, e := range entries {
		if e.problem != "" {
			results[i] = hp.BatchResult{Err: &rowError{where: e.where, problem: e.problem}}
			continue
		}
		it := hp.BatchItem{ResourceUUID: e.uuid}
		if e.token != "" {
			it.Client = base.WithToken(e.token)
		}
		items = append(items, it)
		at = append(at, i)
	}
	opts := []hp.BatchOption{hp.BatchConcurrency(concurrency)}
	if bar != nil {
		skipped := len(entries) - len(items)
		opts = append(opts, hp.BatchProgress(func(d, _ int) { bar.update(done+skipped+d, total) }))
	}
	for k, r := range base.ResolvePipelines(ctx, items, opts...) {
		results[at[k]] = r
	}
	return results
}
