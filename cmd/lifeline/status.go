package main

import "net/http"

// mountStatus mounts the status page. Placeholder until package status builds.
func (a *app) mountStatus(mux *http.ServeMux) {}
