package clienttest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// BrowserStep is one step of RunSteps: see testdata/clients/run-steps.mjs.
type BrowserStep struct {
	Do string `json:"do"` // goto, wait, waitFn, click, press, fill, eval, screenshot, close
	// Page is the page the step acts on: each page has a browser context of
	// its own, opened when a step first names it (0 is the first page).
	Page     int    `json:"page,omitempty"`
	URL      string `json:"url,omitempty"`
	Selector string `json:"selector,omitempty"`
	JS       string `json:"js,omitempty"`
	Key      string `json:"key,omitempty"`
	Text     string `json:"text,omitempty"` // of a fill
	Name     string `json:"name,omitempty"` // of an eval's value
	Path     string `json:"path,omitempty"` // of a screenshot
	FullPage bool   `json:"fullPage,omitempty"`
}

// StepsResult is what RunSteps saw.
type StepsResult struct {
	OK     bool                       `json:"ok"`
	Values map[string]json.RawMessage `json:"values"` // of the eval steps, by name
	// Console lists the pages' console errors, uncaught exceptions and
	// responses with a status of 400 or more.
	Console []string `json:"console"`
	Error   string   `json:"error"`
	Stderr  string   `json:"-"`
}

// RunSteps drives Debian's Chromium along steps in a viewport of width x
// height (0: 1400 x 900) and returns what it saw. The error is non-nil when
// the browser could not run or a step failed.
func RunSteps(ctx context.Context, width, height int, steps []BrowserStep) (StepsResult, error) {
	f, err := os.CreateTemp("", "janustap-steps-*.json")
	if err != nil {
		return StepsResult{}, fmt.Errorf("write browser steps: %w", err)
	}
	defer os.Remove(f.Name())
	err = json.NewEncoder(f).Encode(map[string]any{"steps": steps, "width": width, "height": height})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return StepsResult{}, fmt.Errorf("write browser steps: %w", err)
	}
	timeout := 60 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d) - 2*time.Second
	}
	var res StepsResult
	stderr, err := runScript(ctx, &res, "run-steps.mjs", "--timeout", strconv.FormatInt(max(timeout.Milliseconds(), 1000), 10), filepath.Clean(f.Name()))
	res.Stderr = stderr
	return res, err
}
