package app_test

import "testing"

// TestDemoRoutesAreOffInProduction: the demonstration routes are a
// development aid; production mounts them only when asked to.
func TestDemoRoutesAreOffInProduction(t *testing.T) {
	production := map[string]string{
		"WARDEN_ENV":        "production",
		"WARDEN_SECRET_KEY": "q7Vx2mK9pR4tW8zB1nC6hJ3sD5fG0aL2eY7uI4oP9wQ1rT6kM3xZ8vN5bH2jF0gA",
		"WARDEN_PUBLIC_URL": "https://books.example.com",
	}
	for _, tc := range []struct {
		name  string
		extra map[string]string
		want  int
	}{
		{"development", nil, 200},
		{"production", production, 404},
		{"production, asked for", merge(production, map[string]string{"WARDEN_DEMO_ROUTES": "true"}), 200},
		{"development, turned off", map[string]string{"WARDEN_DEMO_ROUTES": "false"}, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, _ := start(t, tc.extra)
			if status, _, _ := call(t, "GET", base+"/api/demo/public", nil, ""); status != tc.want {
				t.Fatalf("GET /api/demo/public: %d, want %d", status, tc.want)
			}
			if status, _, _ := call(t, "GET", base+"/healthz", nil, ""); status != 200 {
				t.Fatalf("healthz: %d", status)
			}
		})
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
