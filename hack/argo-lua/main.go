// Command argo-lua runs Argo CD resource health checks (health.lua) with Argo
// CD's own Lua runtime: the util/lua package of the release pinned in
// hack/versions.env (ARGOCD_VERSION), in the sandbox Argo CD gives scripts
// installed through argocd-cm (gopher-lua, Lua 5.1, no string library, a 1 s
// timeout). hack/build-binaries.sh builds it.
//
//	argo-lua [flags] test PATH...          run every health_test.yaml under each PATH
//	argo-lua [flags] health OBJECT [SCRIPT] print the health of one object
//
// Flags (before the command):
//
//	--argocd-cm FILE  take the scripts from an argocd-cm ConfigMap, parsed by
//	                  Argo CD's settings manager (as `argocd admin settings
//	                  resource-overrides health --argocd-cm-path` does),
//	                  instead of health.lua files
//	--controller      assess as the application controller does, through
//	                  gitops-engine's health.GetResourceHealth, which answers
//	                  for an object being deleted before any script runs
//
// Output is JSON on stdout. `test` exits 1 when any result differs from its
// expectation; `health` exits 1 when the script fails.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/util/lua"
	"github.com/argoproj/argo-cd/v3/util/settings"
	"github.com/argoproj/gitops-engine/pkg/health"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"
)

const (
	healthScriptFile = "health.lua"
	healthTestFile   = "health_test.yaml"
)

// The format of Argo CD's own resource_customizations/<group>/<Kind>/health_test.yaml.
type healthTests struct {
	Tests []struct {
		InputPath    string              `json:"inputPath"`
		HealthStatus health.HealthStatus `json:"healthStatus"`
	} `json:"tests"`
}

type testResult struct {
	File      string               `json:"file"`
	InputPath string               `json:"inputPath"`
	Expected  health.HealthStatus  `json:"expected"`
	Actual    *health.HealthStatus `json:"actual"`
	Error     string               `json:"error,omitempty"`
	OK        bool                 `json:"ok"`
}

type options struct {
	argocdCM   string
	controller bool
}

func main() {
	var opts options
	flag.StringVar(&opts.argocdCM, "argocd-cm", "", "take the health scripts from this argocd-cm ConfigMap")
	flag.BoolVar(&opts.controller, "controller", false, "assess through gitops-engine, as the application controller does")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: argo-lua [--argocd-cm FILE] [--controller] test PATH... | health OBJECT [SCRIPT]")
		flag.PrintDefaults()
	}
	flag.Parse()
	args := flag.Args()
	if len(args) < 2 {
		flag.Usage()
		os.Exit(2)
	}
	var err error
	switch args[0] {
	case "test":
		err = runTests(opts, args[1:])
	case "health":
		if len(args) > 3 || (len(args) == 2 && opts.argocdCM == "") {
			flag.Usage()
			os.Exit(2)
		}
		script := ""
		if len(args) == 3 {
			script = args[2]
		}
		err = runHealth(opts, args[1], script)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "argo-lua:", err)
		os.Exit(1)
	}
}

func runTests(opts options, paths []string) error {
	var files []string
	for _, root := range paths {
		err := filepath.WalkDir(root, func(path string, entry fs.DirEntry, err error) error {
			if err == nil && !entry.IsDir() && entry.Name() == healthTestFile {
				files = append(files, path)
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	if len(files) == 0 {
		return fmt.Errorf("no %s under %v", healthTestFile, paths)
	}
	sort.Strings(files)
	cmOverrides, err := loadArgoCDConfigMap(opts.argocdCM)
	if err != nil {
		return err
	}
	results := []testResult{}
	failed := 0
	for _, file := range files {
		fileResults, err := runTestFile(opts, cmOverrides, file)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		for _, result := range fileResults {
			if !result.OK {
				failed++
			}
		}
		results = append(results, fileResults...)
	}
	if err := printJSON(map[string]any{"results": results, "failed": failed}); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d health checks differ from their expectation", failed, len(results))
	}
	return nil
}

func runTestFile(opts options, cmOverrides map[string]v1alpha1.ResourceOverride, file string) ([]testResult, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var tests healthTests
	if err := yaml.UnmarshalStrict(data, &tests); err != nil {
		return nil, err
	}
	if len(tests.Tests) == 0 {
		return nil, errors.New("no tests")
	}
	dir := filepath.Dir(file)
	overrides := cmOverrides
	if overrides == nil {
		// The directory is named as in Argo CD's resource_customizations: <group>/<Kind>.
		key := filepath.Base(filepath.Dir(dir)) + "/" + filepath.Base(dir)
		if overrides, err = scriptOverride(key, filepath.Join(dir, healthScriptFile)); err != nil {
			return nil, err
		}
	}
	results := make([]testResult, 0, len(tests.Tests))
	for _, test := range tests.Tests {
		result := testResult{File: file, InputPath: test.InputPath, Expected: test.HealthStatus}
		obj, err := readObject(filepath.Join(dir, test.InputPath))
		if err == nil {
			result.Actual, err = assess(opts, obj, overrides)
		}
		if err != nil {
			result.Error = err.Error()
		}
		result.OK = err == nil && result.Actual != nil && *result.Actual == test.HealthStatus
		results = append(results, result)
	}
	return results, nil
}

func runHealth(opts options, objectPath, scriptPath string) error {
	obj, err := readObject(objectPath)
	if err != nil {
		return err
	}
	overrides, err := loadArgoCDConfigMap(opts.argocdCM)
	if err != nil {
		return err
	}
	if scriptPath != "" {
		if overrides, err = scriptOverride(lua.GetConfigMapKey(obj.GroupVersionKind()), scriptPath); err != nil {
			return err
		}
	}
	status, err := assess(opts, obj, overrides)
	if err != nil {
		_ = printJSON(map[string]string{"error": err.Error()})
		return err
	}
	return printJSON(status)
}

// scriptOverride is what argocd-cm's resource.customizations.health.<group>_<Kind>
// key becomes in Argo CD: a resource override holding the script, with the
// standard libraries off (resource.customizations.useOpenLibs unset).
func scriptOverride(key, scriptPath string) (map[string]v1alpha1.ResourceOverride, error) {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		return nil, err
	}
	return map[string]v1alpha1.ResourceOverride{key: {HealthLua: string(script)}}, nil
}

// loadArgoCDConfigMap reads the resource overrides from an argocd-cm file with
// Argo CD's settings manager over a fake clientset, like `argocd admin settings`.
// It returns nil when no file is given.
func loadArgoCDConfigMap(path string) (map[string]v1alpha1.ResourceOverride, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var configMap corev1.ConfigMap
	if err := yaml.UnmarshalStrict(data, &configMap); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if configMap.Name != "argocd-cm" {
		return nil, fmt.Errorf("%s: the ConfigMap is named %q, not argocd-cm", path, configMap.Name)
	}
	// The settings manager finds only objects labelled as part of Argo CD, in its namespace.
	const namespace = "argocd"
	partOf := map[string]string{"app.kubernetes.io/part-of": "argocd"}
	configMap.Namespace = namespace
	configMap.Labels = partOf
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "argocd-secret", Namespace: namespace, Labels: partOf},
		Data:       map[string][]byte{"server.secretkey": []byte("unused")},
	}
	manager := settings.NewSettingsManager(context.Background(), fake.NewClientset(&configMap, secret), namespace)
	if err := manager.ResyncInformers(); err != nil {
		return nil, err
	}
	return manager.GetResourceOverrides()
}

// assess runs the health check the overrides define for obj: the call the
// application controller makes (lua.ResourceHealthOverrides, which picks the
// script with VM.GetHealthScript and runs it with VM.ExecuteHealthLua), or with
// --controller the controller's own entry point around it.
func assess(opts options, obj *unstructured.Unstructured, overrides map[string]v1alpha1.ResourceOverride) (*health.HealthStatus, error) {
	var status *health.HealthStatus
	var err error
	if opts.controller {
		status, err = health.GetResourceHealth(obj, lua.ResourceHealthOverrides(overrides))
	} else {
		status, err = lua.ResourceHealthOverrides(overrides).GetResourceHealth(obj)
	}
	if err == nil && status == nil {
		err = fmt.Errorf("no health script for %s", lua.GetConfigMapKey(obj.GroupVersionKind()))
	}
	return status, err
}

func readObject(path string) (*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	obj := map[string]any{}
	if err := yaml.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &unstructured.Unstructured{Object: obj}, nil
}

func printJSON(value any) error {
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", "  ")
	encoder.SetEscapeHTML(false) // messages hold "->" and "<"
	return encoder.Encode(value)
}
