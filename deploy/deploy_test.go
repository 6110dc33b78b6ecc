// Package deploy_test checks the deployment files: that the compose file,
// the Kubernetes manifests and the Prometheus and Grafana configurations
// parse and fit together, and that every metric the dashboard and the alert
// rules query is one a real gateway exports.
package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/gatewaytest"
	"github.com/rushgate/rushgate/internal/rush"
)

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// yamlDocs splits a multi-document YAML file and decodes each document.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	for _, part := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(part), &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	return docs
}

type composeFile struct {
	Services map[string]struct {
		Build       map[string]any    `yaml:"build"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		DependsOn   any               `yaml:"depends_on"` // a list or a map
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

// interpolate does compose's substitution with an empty shell: ${V:-def}
// is def, and ${V:?message} (a required secret) is a placeholder.
func interpolate(v string) string {
	return regexp.MustCompile(`\$\{[A-Z_]+(:-([^}]*)|:\?[^}]*)\}`).ReplaceAllStringFunc(v, func(m string) string {
		if i := strings.Index(m, ":-"); i >= 0 {
			return m[i+2 : len(m)-1]
		}
		return "placeholder-secret"
	})
}

// The compose file has the whole topology: three gateway replicas on the
// Redis Cluster (formed by its init step) and Postgres, a load balancer,
// Prometheus and Grafana; every file it mounts exists; every named volume
// is declared.
func TestComposeDescribesTheWholeTopology(t *testing.T) {
	var c composeFile
	readYAML(t, "compose/compose.yaml", &c)
	var names []string
	for name := range c.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	want := []string{"grafana", "lb", "postgres", "prometheus", "redis-1", "redis-2", "redis-3", "redis-4", "redis-5",
		"redis-6", "redis-cluster-init", "rushgate-1", "rushgate-2", "rushgate-3"}
	if !slices.Equal(names, want) {
		t.Errorf("services %v, want %v", names, want)
	}
	for _, name := range []string{"rushgate-1", "rushgate-2", "rushgate-3"} {
		s := c.Services[name]
		env := s.Environment
		if env["REDIS_MODE"] != config.RedisCluster {
			t.Errorf("%s: REDIS_MODE %q, want cluster", name, env["REDIS_MODE"])
		}
		for i := 1; i <= 6; i++ {
			if node := "redis-" + string(rune('0'+i)) + ":6379"; !strings.Contains(env["REDIS_URL"], node) {
				t.Errorf("%s: REDIS_URL %q does not list %s", name, env["REDIS_URL"], node)
			}
		}
		if _, err := config.Load(func(k string) string { return interpolate(env[k]) }); err != nil {
			t.Errorf("%s: its environment is no valid configuration: %v", name, err)
		}
		if deps, _ := s.DependsOn.(map[string]any); deps["redis-cluster-init"] == nil {
			t.Errorf("%s does not wait for the cluster to be formed", name)
		}
		if df, _ := s.Build["dockerfile"].(string); df == "" {
			t.Errorf("%s: no Dockerfile", name)
		} else if _, err := os.Stat(filepath.Join("compose", s.Build["context"].(string), df)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src := strings.Split(v, ":")[0]
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join("compose", src)); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s uses volume %s, which is not declared", name, src)
			}
		}
	}
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "compose/prometheus.yml", &prom)
	if len(prom.ScrapeConfigs) != 1 || prom.ScrapeConfigs[0].JobName != "rushgate" ||
		len(prom.ScrapeConfigs[0].StaticConfigs) != 1 || len(prom.ScrapeConfigs[0].StaticConfigs[0].Targets) != 3 {
		t.Errorf("compose Prometheus does not scrape the three replicas as job rushgate: %+v", prom.ScrapeConfigs)
	}
	if !slices.Contains(c.Services["prometheus"].Volumes, "../monitoring/alerts.yml:"+prom.RuleFiles[0]+":ro") {
		t.Errorf("the rule file %v is not the mounted deploy/monitoring/alerts.yml", prom.RuleFiles)
	}
}

// Every Kubernetes manifest parses into named objects; the kustomization
// lists each file; workloads select their own pods; and the ConfigMaps and
// Secrets they read are defined here or created by a command in
// deploy/README.md.
func TestKubernetesManifestsFitTogether(t *testing.T) {
	var kust struct {
		Resources []string `yaml:"resources"`
	}
	readYAML(t, "kubernetes/kustomization.yaml", &kust)
	files, _ := filepath.Glob("kubernetes/*.yaml")
	var listed []string
	for _, f := range files {
		if filepath.Base(f) != "kustomization.yaml" {
			listed = append(listed, filepath.Base(f))
		}
	}
	sort.Strings(listed)
	got := slices.Clone(kust.Resources)
	sort.Strings(got)
	if !slices.Equal(got, listed) {
		t.Errorf("kustomization resources %v, files %v", got, listed)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	defined := map[string]bool{}
	var refs []string
	for _, f := range listed {
		for _, doc := range yamlDocs(t, filepath.Join("kubernetes", f)) {
			kind, _ := doc["kind"].(string)
			meta, _ := doc["metadata"].(map[string]any)
			name, _ := meta["name"].(string)
			if doc["apiVersion"] == nil || kind == "" || name == "" {
				t.Errorf("%s: an object without apiVersion, kind or name: %v", f, doc)
				continue
			}
			kinds[kind]++
			defined[kind+"/"+name] = true
			if kind == "Deployment" || kind == "StatefulSet" {
				spec := doc["spec"].(map[string]any)
				sel := spec["selector"].(map[string]any)["matchLabels"].(map[string]any)
				labels := spec["template"].(map[string]any)["metadata"].(map[string]any)["labels"].(map[string]any)
				for k, v := range sel {
					if labels[k] != v {
						t.Errorf("%s %s: selector %s=%v does not match its pods", kind, name, k, v)
					}
				}
			}
			b, _ := json.Marshal(doc)
			for _, m := range regexp.MustCompile(`"(configMap|secretKeyRef)":\{[^}]*"name":"([^"]+)"`).FindAllStringSubmatch(string(b), -1) {
				kind := map[string]string{"configMap": "ConfigMap", "secretKeyRef": "Secret"}[m[1]]
				refs = append(refs, kind+"/"+m[2])
			}
		}
	}
	for _, k := range []string{"Deployment", "StatefulSet", "Service", "Job", "ConfigMap"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in the manifests", k)
		}
	}
	for _, ref := range refs {
		name := strings.SplitN(ref, "/", 2)[1]
		if !defined[ref] && !bytes.Contains(readme, []byte("create "+strings.ToLower(strings.SplitN(ref, "/", 2)[0])+" generic "+name)) &&
			!bytes.Contains(readme, []byte("create configmap "+name)) {
			t.Errorf("%s is read by a manifest but neither defined nor created in deploy/README.md", ref)
		}
	}
}

// The dashboard is valid JSON whose every panel queries the provisioned
// Prometheus data source.
func TestDashboardQueriesTheProvisionedDataSource(t *testing.T) {
	d := readDashboard(t)
	if len(d.Panels) == 0 {
		t.Fatal("no panels")
	}
	var ds struct {
		Datasources []struct {
			UID string `yaml:"uid"`
		} `yaml:"datasources"`
	}
	readYAML(t, "compose/grafana/datasources.yaml", &ds)
	for _, p := range d.Panels {
		if p.Datasource.UID != ds.Datasources[0].UID || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %q, %d queries", p.Title, p.Datasource.UID, len(p.Targets))
		}
	}
}

type dashboard struct {
	Panels []struct {
		Title      string `json:"title"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("monitoring/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// queries are every PromQL expression of the dashboard and the alert rules.
func queries(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	d := readDashboard(t)
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			out["dashboard panel "+p.Title+": "+q.Expr] = q.Expr
		}
	}
	for _, v := range d.Templating.List {
		out["dashboard variable: "+v.Definition] = v.Definition
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, "monitoring/alerts.yml", &rules)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out["alert "+r.Alert] = r.Expr
		}
	}
	return out
}

// The label lists of by, on, without, ignoring, group_left and group_right,
// string literals, label matchers and range selectors hold no metric names.
var (
	promStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promRanges    = regexp.MustCompile(`\[[^\]]*\]|\boffset\s+[0-9a-z]+`)
	promLabelList = regexp.MustCompile(`\b(?:by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent     = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*\s*\(?`)
	promKeywords  = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"by": true, "on": true, "without": true, "ignoring": true, "group_left": true, "group_right": true,
		"inf": true, "nan": true, "Inf": true, "NaN": true}
)

// metricNames are the metric names a PromQL expression selects: every
// identifier that is not a function (followed by "("), a keyword, a label
// name or inside a string. label_values(metric, label) names its metric
// as its first argument.
func metricNames(expr string) []string {
	if m := regexp.MustCompile(`^label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)`).FindStringSubmatch(expr); m != nil {
		return []string{m[1]}
	}
	s := promStrings.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRanges.ReplaceAllString(s, " ")
	s = promLabelList.ReplaceAllString(s, " ")
	var out []string
	for _, id := range promIdent.FindAllString(s, -1) {
		if strings.HasSuffix(id, "(") {
			continue
		}
		id = strings.TrimSpace(id)
		if !promKeywords[id] && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func TestMetricNamesAreReadOffPromQL(t *testing.T) {
	for expr, want := range map[string][]string{
		`max by (concert_id) (rushgate_queue_waiting{concert_id=~"$concert"}) > 0`:                               {"rushgate_queue_waiting"},
		`histogram_quantile(0.99, sum by (le, route) (rate(rushgate_http_request_duration_seconds_bucket[5m])))`: {"rushgate_http_request_duration_seconds_bucket"},
		`(a > 0) and on (concert_id) (max by (concert_id) (increase(b_total[2m])) == 0)`:                         {"a", "b_total"},
		`sum(rate(x{status=~"5.."}[5m])) / sum(rate(x[5m])) > 0.01`:                                              {"x"},
		`up{job="rushgate"} == 0`:                          {"up"},
		`label_values(rushgate_queue_waiting, concert_id)`: {"rushgate_queue_waiting"},
		`clamp_min(y, 0.01) < 0.5 * z offset 5m`:           {"y", "z"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", expr, got, want)
		}
	}
}

// Every metric that the dashboard and the alert rules query is exported by
// /metrics of a real gateway (on the real Redis and Postgres) once a few
// users went through the whole journey: enter, wait, hold, pay. Only "up",
// which Prometheus makes itself, is not the gateway's.
func TestEveryQueriedMetricIsExported(t *testing.T) {
	r := gatewaytest.New(t, 1, 20, 10000, func(c *config.Config) {
		c.AdmitPerSecond, c.AdminToken = 100, gatewaytest.AdminToken
	})
	ctx := context.Background()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.Handler)
	t.Cleanup(func() {
		srv.Close()
		r.StopAdmitting()
	})
	rep, err := rush.Run(ctx, rush.Options{BaseURL: srv.URL, Users: 5, Duration: 60 * time.Second, Concurrency: 5,
		AdminToken: gatewaytest.AdminToken, PollScale: 0.1, SeatsOffered: 20})
	if err != nil {
		t.Fatal(err)
	}
	if rep.SeatsSold == 0 {
		t.Fatalf("nobody bought: outcomes %v, failures %v", rep.Outcomes, rep.Failures)
	}

	exported := map[string]bool{"up": true}
	deadline := time.Now().Add(20 * time.Second)
	var missing []string
	for {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			name := line[:strings.IndexAny(line, "{ ")]
			exported[name] = true
		}
		missing = missing[:0]
		for where, expr := range queries(t) {
			for _, name := range metricNames(expr) {
				if !exported[name] {
					missing = append(missing, name+" ("+where+")")
				}
			}
		}
		// The store probe and the admission's view of the seats appear
		// within a tick or two of the start.
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("not exported by the gateway: %s", m)
	}
	if len(queries(t)) < 10 {
		t.Errorf("only %d queries found", len(queries(t)))
	}
}
