// Package browsertest opens the status page of package status in a headless
// Chromium and checks in the DOM what page.js does with it: live runs and
// their phases as they change, an aborted stream among the recent runs, the
// same cells as the server renders, and sorting on a click.
//
// It is a module of its own (github.com/lifeline-go/lifeline/status/browsertest)
// so that the library's go.mod does not require chromedp: a program that
// imports package status inherits nothing of it. It reaches the status page
// over HTTP only, as a browser does. Run it with
//
//	cd status/browsertest && go test .
//
// It needs Chromium at /usr/bin/chromium (`make deps` installs it).
package browsertest
