// Package conformance compares Lifeline with PHP, side by side, on this
// machine: every scenario exists as a PHP script (testdata/php) run by
// PHP-FPM behind nginx, both started by the test on loopback (see package
// phpfpm), and as a Go handler run by Lifeline; one client driver plays the
// same client actions against both (read all, read some then close, reset,
// stop reading, gzip, connection reuse), and both servers log what they saw
// in the same JSON-lines format. The test compares the two and fails on any
// difference that its scenario does not declare, with a reason.
//
// The package has no API; its test is the suite:
//
//	go test -run TestConformance ./conformance/
//
// regenerates nothing, and
//
//	LIFELINE_CONFORMANCE_WRITE=1 go test -count=1 -run TestConformance ./conformance/
//
// (scripts/conformance.sh, make conformance) also writes docs/CONFORMANCE.md.
// PHP-FPM 8.2, php-cli and nginx must be installed (make deps).
package conformance
