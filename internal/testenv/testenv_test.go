package testenv

import "testing"

func TestRequired(t *testing.T) {
	tests := []struct {
		env       string
		component string
		want      bool
	}{
		{env: "", component: Redis, want: false},
		{env: "all", component: Redis, want: true},
		{env: "all", component: Chromium, want: true},
		{env: "redis,chromium", component: Chromium, want: true},
		{env: "redis,chromium", component: PHP, want: false},
		{env: "none", component: Redis, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.env+"/"+tt.component, func(t *testing.T) {
			t.Setenv(RequireEnv, tt.env)
			if got := Required(tt.component); got != tt.want {
				t.Errorf("Required(%q) with %s=%q = %v, want %v", tt.component, RequireEnv, tt.env, got, tt.want)
			}
		})
	}
}

func TestLookPath(t *testing.T) {
	if _, err := LookPath("lifeline-no-such-binary"); err == nil {
		t.Error("LookPath(missing) = nil error")
	}
	if _, err := LookPath("lifeline-no-such-binary", "sh"); err != nil {
		t.Errorf("LookPath(missing, sh) = %v, want sh's path", err)
	}
}

// TestMissingSkips checks the tier of a bare go test: a missing component
// skips the test.
func TestMissingSkips(t *testing.T) {
	t.Setenv(RequireEnv, "")
	skipped := false
	t.Run("inner", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Missing(t, Redis, "not here")
	})
	if !skipped {
		t.Error("Missing without LIFELINE_REQUIRE did not skip")
	}
}
