package api

import "strings"

func envRoutes(sys Environment) []route {
	return []route{
		{"GET", "/env/", func(*request) (any, error) {
			env := sys.Environ()
			if env == nil {
				env = []string{}
			}
			return env, nil
		}},
		{"GET", "/env/{var}", func(r *request) (any, error) {
			name, err := envName(r)
			if err != nil {
				return nil, err
			}
			v, ok := sys.Getenv(name)
			if !ok {
				// OSv answers 400 here, not 404.
				return nil, badRequest("no environment variable %q", name)
			}
			return v, nil
		}},
		{"POST", "/env/{var}", func(r *request) (any, error) {
			name, err := envName(r)
			if err != nil {
				return nil, err
			}
			val, err := r.queryParam("val")
			if err != nil {
				return nil, err
			}
			if strings.IndexByte(val, 0) >= 0 {
				return nil, badRequest("environment value holds a NUL byte")
			}
			return "", sys.Setenv(name, val)
		}},
		{"DELETE", "/env/{var}", func(r *request) (any, error) {
			name, err := envName(r)
			if err != nil {
				return nil, err
			}
			return "", sys.Unsetenv(name)
		}},
	}
}

// envName is the {var} path parameter, refused if no environment could
// hold it.
func envName(r *request) (string, error) {
	name := r.params["var"]
	if strings.ContainsAny(name, "=\x00") {
		return "", badRequest("invalid environment variable name %q", name)
	}
	return name, nil
}
