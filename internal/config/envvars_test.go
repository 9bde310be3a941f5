package config

import "testing"

// TestEnvVars checks that every listed variable (and its alias) is one FromEnv reads, and
// that every key FromEnv reads is listed.
func TestEnvVars(t *testing.T) {
	listed := map[string]bool{}
	for _, v := range EnvVars() {
		f := fieldByKey(v.Key)
		if f == nil {
			t.Fatalf("%s: no key %q", v.Name, v.Key)
		}
		listed[v.Key] = true
		for _, name := range []string{v.Name, v.Alias} {
			if name == "" {
				continue
			}
			s, err := FromEnv(envMap(map[string]string{name: sample(f)}))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !f.isSet(&s) {
				t.Errorf("%s does not set %s", name, v.Key)
			}
		}
	}
	for _, f := range fields {
		if !f.noEnv && !listed[f.key] {
			t.Errorf("key %s is read from the environment but not in EnvVars", f.key)
		}
	}
	if listed["password"] {
		t.Error("EnvVars lists password: there is no SMTPKIT_PASSWORD")
	}
}
