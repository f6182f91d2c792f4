package api

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// The parts of an OpenAPI 3.0 document the tests read.
type spec struct {
	OpenAPI string                           `json:"openapi"`
	Paths   map[string]map[string]specOp     `json:"paths"`
	Comps   struct{ Schemas map[string]any } `json:"components"`
}

type specOp struct {
	Parameters []struct {
		Name     string `json:"name"`
		In       string `json:"in"`
		Required bool   `json:"required"`
	} `json:"parameters"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

func loadSpec(t *testing.T) spec {
	t.Helper()
	var s spec
	if err := json.Unmarshal(openAPI, &s); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(s.OpenAPI, "3.") {
		t.Fatalf("openapi = %q, want 3.x", s.OpenAPI)
	}
	return s
}

// specPath spells a route's pattern as OpenAPI does: "{mount...}" is
// "{mount}".
func specPath(pattern string) string { return strings.ReplaceAll(pattern, "...}", "}") }

func TestSpecListsEveryRoute(t *testing.T) {
	s := loadSpec(t)
	inSpec := map[string]bool{}
	for path, ops := range s.Paths {
		for method := range ops {
			inSpec[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, r := range register(newFake()) {
		key := r.method + " " + specPath(r.path)
		if served[key] {
			t.Errorf("route %s registered twice", key)
		}
		served[key] = true
	}
	for _, k := range slices.Sorted(maps.Keys(served)) {
		if !inSpec[k] {
			t.Errorf("route %s is served but missing from openapi.json", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(inSpec)) {
		if !served[k] {
			t.Errorf("openapi.json lists %s, which is not served", k)
		}
	}
}

// sampleParams fill path and query parameters so every documented
// operation succeeds against newFake.
var sampleParams = map[string]string{"var": "HOME", "intf": "eth0", "mount": "tmp/data", "name": "web1", "val": "x"}

// TestResponsesMatchSpec calls every documented operation and checks the
// answer against its documented 200 schema.
func TestResponsesMatchSpec(t *testing.T) {
	s := loadSpec(t)
	for path, ops := range s.Paths {
		for method, op := range ops {
			t.Run(strings.ToUpper(method)+" "+path, func(t *testing.T) {
				target := path
				query := url.Values{}
				for _, p := range op.Parameters {
					v, ok := sampleParams[p.Name]
					if !ok {
						t.Fatalf("no sample value for parameter %q", p.Name)
					}
					switch p.In {
					case "path":
						if !strings.Contains(target, "{"+p.Name+"}") {
							t.Errorf("path parameter %q is not in the path", p.Name)
						}
						target = strings.ReplaceAll(target, "{"+p.Name+"}", v)
					case "query":
						query.Set(p.Name, v)
					default:
						t.Errorf("parameter %q in %q", p.Name, p.In)
					}
				}
				if strings.Contains(target, "{") {
					t.Fatalf("undeclared path parameter in %s", target)
				}
				if len(query) > 0 {
					target += "?" + query.Encode()
				}
				got := do(testHandler(newFake()), strings.ToUpper(method), target, "", "")
				if got.code != 200 {
					t.Fatalf("status %d: %s", got.code, got.body)
				}
				ok, found := op.Responses["200"]
				if !found {
					t.Fatalf("no 200 response documented")
				}
				ctype, _, _ := strings.Cut(got.ctype, ";")
				media, found := ok.Content[ctype]
				if !found {
					t.Fatalf("Content-Type %q not documented", ctype)
				}
				if ctype != "application/json" {
					return
				}
				var v any
				if err := json.Unmarshal([]byte(got.body), &v); err != nil {
					t.Fatal(err)
				}
				if err := conforms(s, media.Schema, v, "body"); err != nil {
					t.Errorf("%v\nbody: %s", err, got.body)
				}
			})
		}
	}
}

// conforms checks v against the subset of JSON Schema openapi.json uses:
// $ref, type, enum, items, properties and required. An object must have
// exactly the documented properties, so the description cannot drift
// from the code in either direction.
func conforms(s spec, schema map[string]any, v any, where string) error {
	if ref, ok := schema["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		target, ok := s.Comps.Schemas[name].(map[string]any)
		if !ok {
			return fmt.Errorf("%s: unknown schema %s", where, ref)
		}
		return conforms(s, target, v, where)
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		return fmt.Errorf("%s: %v not in %v", where, v, enum)
	}
	switch typ := schema["type"]; typ {
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: %v is not a string", where, v)
		}
	case "integer", "number":
		n, ok := v.(float64)
		if !ok || typ == "integer" && n != float64(int64(n)) {
			return fmt.Errorf("%s: %v is not an %s", where, v, typ)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %v is not a boolean", where, v)
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %v is not an array", where, v)
		}
		items, _ := schema["items"].(map[string]any)
		for i, e := range a {
			if err := conforms(s, items, e, fmt.Sprintf("%s[%d]", where, i)); err != nil {
				return err
			}
		}
	case "object":
		o, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %v is not an object", where, v)
		}
		props, _ := schema["properties"].(map[string]any)
		if props == nil {
			return nil // free-form, like /api-doc itself
		}
		for k := range o {
			if _, ok := props[k]; !ok {
				return fmt.Errorf("%s: property %q not documented", where, k)
			}
		}
		for k, p := range props {
			e, ok := o[k]
			if !ok {
				return fmt.Errorf("%s: documented property %q missing", where, k)
			}
			if err := conforms(s, p.(map[string]any), e, where+"."+k); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%s: schema without a known type: %v", where, schema)
	}
	return nil
}
