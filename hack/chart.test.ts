// The chart without a cluster: `helm lint`/`helm template` against values.schema.json and the optional
// objects, `promtool` on the alert rules, and the dashboard's and rules' metrics against the ones the
// operator's registry (operator/metrics.ts) serves. Cluster installs are e2e/helm.e2e.ts.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Histogram } from "prom-client";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { GO_DURATION_PATTERN } from "../operator/lib/duration.ts";
import { OperatorMetrics } from "../operator/metrics.ts";
import { cacheDir } from "./cache-dirs.ts";
import { dashboardPanels, dashboardQueries } from "./dashboard-queries.ts";

const REPO_ROOT = join(import.meta.dirname, "..");
const CHART = join(REPO_ROOT, "charts", "arf-operator");
const RULES_FILE = join(CHART, "files", "prometheus-rules.yaml");
const RULES_TESTS = join(CHART, "tests", "prometheus-rules.test.yaml");
const PROMTOOL = "/usr/bin/promtool";
const DEFAULT_RUNBOOKS = "https://github.com/arf-dev/arf-operator/blob/main/docs/runbooks.md";
const HELM = join(cacheDir("helm_bin_dir"), "helm");
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JavaScript template.
const DATASOURCE_VARIABLE = "${datasource}";
const MONITORING_API = ["--api-versions", "monitoring.coreos.com/v1"];
/** Every optional object on (the PodMonitor is the ServiceMonitor's alternative, tested apart). */
const EVERYTHING = [
  "metrics.serviceMonitor.enabled=true",
  "metrics.prometheusRule.enabled=true",
  "grafanaDashboard.enabled=true",
  "networkPolicy.enabled=true",
  "additionalLabels.release=kube-prometheus-stack",
  "metrics.serviceMonitor.labels.scraped-by=prometheus",
];

function run(command: string, args: string[]) {
  if (!existsSync(command)) {
    const how = command === PROMTOOL ? "run hack/setup-prometheus.sh" : "run hack/build-binaries.sh";
    throw new Error(`${command} is missing: ${how}`);
  }
  const result = spawnSync(command, args, { cwd: REPO_ROOT, encoding: "utf8", maxBuffer: 16 << 20 });
  return { ok: result.status === 0, stdout: result.stdout, stderr: result.stderr };
}

const helmArgs = (sets: string[], extra: string[]) => [
  CHART,
  "--kube-version",
  "1.35.0",
  ...extra,
  ...sets.flatMap((set) => ["--set", set]),
];

/** `helm template`'s objects; throws with helm's message when the chart refuses the values. */
function render(sets: string[] = [], extra: string[] = []): any[] {
  const { ok, stdout, stderr } = run(HELM, ["template", "arf", ...helmArgs(sets, extra), "--namespace", "arf-system"]);
  if (!ok) throw new Error(stderr);
  return parseAllDocuments(stdout)
    .map((doc) => doc.toJS())
    .filter(Boolean);
}

/** helm's stderr for values the chart must refuse. */
function refusal(sets: string[], extra: string[] = []): string {
  const { ok, stderr } = run(HELM, ["template", "arf", ...helmArgs(sets, extra)]);
  expect(ok, `helm template accepted ${sets.join(" ")}`).toBe(false);
  return stderr;
}

const only = (docs: any[], kind: string) => docs.filter((d) => d.kind === kind);
const one = (docs: any[], kind: string) => {
  const found = only(docs, kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0];
};

// --- what the operator really serves: its registry's metrics, and the label values its sources write

const OPERATOR_SOURCES = readdirSync(join(REPO_ROOT, "operator"), { recursive: true, encoding: "utf8" })
  .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts"))
  .map((file) => readFileSync(join(REPO_ROOT, "operator", file), "utf8"))
  .join("\n");
const SERVED = new Map(
  new OperatorMetrics().registry.getMetricsAsArray().map((metric) => [
    metric.name,
    {
      histogram: metric instanceof Histogram,
      labelNames: (metric as unknown as { labelNames: string[] }).labelNames,
    },
  ]),
);
/** Labels Prometheus adds to every scraped series (ServiceMonitor/PodMonitor target labels). */
const TARGET_LABELS = ["job", "instance", "namespace", "pod", "service", "container", "endpoint"];
const PROMQL_WORDS = new Set([
  "and",
  "or",
  "unless",
  "offset",
  "bool",
  "by",
  "without",
  "on",
  "ignoring",
  "inf",
  "nan",
]);

/** The metric names a PromQL expression reads (functions, keywords, labels and durations left out). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  return [...bare.matchAll(/(?<![\w.])[a-zA-Z_:][\w:]*/g)]
    .filter((m) => !/^\s*\(/.test(bare.slice((m.index ?? 0) + m[0].length)))
    .map((m) => m[0])
    .filter((name) => !PROMQL_WORDS.has(name));
}

/** The served metric a name reads: itself, or the histogram a _bucket/_sum/_count series belongs to. */
function servedMetric(name: string) {
  const direct = SERVED.get(name);
  if (direct) return { ...direct, extraLabels: [] as string[] };
  const match = /^(.*)_(bucket|sum|count)$/.exec(name);
  const histogram = match ? SERVED.get(match[1] as string) : undefined;
  if (!histogram?.histogram) return undefined;
  return { ...histogram, extraLabels: match?.[2] === "bucket" ? ["le"] : [] };
}

/**
 * What is wrong with an expression's selectors: unknown metrics, labels the metric does not have, and
 * exact values of the metric's own labels that no operator source writes (Prometheus' labels and a
 * histogram's `le` are not the operator's to write).
 */
function selectorProblems(expr: string): string[] {
  const problems = metricNames(expr)
    .filter((name) => !servedMetric(name))
    .map((name) => `${name} is not served`);
  for (const [, name, matchers] of expr.matchAll(/([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}/g)) {
    const metric = servedMetric(name as string);
    if (!metric) continue;
    for (const [, label, op, value] of (matchers as string).matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)) {
      const own = metric.labelNames.includes(label as string);
      if (!own && !TARGET_LABELS.includes(label as string) && !metric.extraLabels.includes(label as string))
        problems.push(`${name} has no label ${label}`);
      if (op === "=" && own && !OPERATOR_SOURCES.includes(`"${value}"`))
        problems.push(`${name}{${label}="${value}"}: no operator source writes "${value}"`);
    }
  }
  return problems;
}

// --- the rules file

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const RULE_GROUPS = parse(readFileSync(RULES_FILE, "utf8")).groups as Array<{ name: string; rules: Rule[] }>;
const RULES = RULE_GROUPS.flatMap((group) => group.rules);
/** The alerts on a counter's increments, which share one pattern (the rules file's header explains it). */
const EVENT_ALERTS = [
  "ArfAutoRollbackPerformed",
  "ArfAutoRollbackFailed",
  "ArfRollbackWindowFailed",
  "ArfRollbackWindowInconclusive",
  "ArfActionFailed",
];
/** That pattern, for a counter selector summed by the given labels, as the rules file writes it. */
const eventExpr = (by: string, counter: string) =>
  [
    `sum by (${by}) (`,
    `  (increase(${counter}[15m]) > 0)`,
    "  or (",
    `    (${counter} unless ${counter} offset 15m)`,
    "    and on (job, instance) (process_start_time_seconds offset 15m)",
    "  )",
    `  or (${counter} and on (job, instance) (time() - process_start_time_seconds < 900))`,
    ") > 0\n",
  ].join("\n");

describe("the alert rules", () => {
  it("pass promtool check rules and promtool's unit tests (each alert fires, and its look-alikes do not)", () => {
    const check = run(PROMTOOL, ["check", "rules", RULES_FILE]);
    expect(check.ok, check.stdout + check.stderr).toBe(true);
    const tests = run(PROMTOOL, ["test", "rules", RULES_TESTS]);
    expect(tests.ok, tests.stdout + tests.stderr).toBe(true);
    // Every alert is exercised by the unit tests.
    const tested = new Set([...readFileSync(RULES_TESTS, "utf8").matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    expect(RULES.map((rule) => rule.alert).filter((alert) => !tested.has(alert))).toEqual([]);
  });

  it("follow the mixin style: Arf-prefixed CamelCase, a severity, summary, description and a runbook per alert", () => {
    const runbooks = readFileSync(join(REPO_ROOT, "docs", "runbooks.md"), "utf8");
    const headings = new Set([...runbooks.matchAll(/^## (\w+)$/gm)].map((m) => m[1]));
    for (const rule of RULES) {
      expect(rule.alert).toMatch(/^Arf([A-Z][a-z]+)+$/);
      expect(["critical", "warning", "info"]).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
      expect(rule.annotations?.runbook_url).toBe(`${DEFAULT_RUNBOOKS}#${rule.alert.toLowerCase()}`);
      expect(headings.has(rule.alert), `docs/runbooks.md has a section "## ${rule.alert}"`).toBe(true);
    }
    expect(new Set(RULES.map((rule) => rule.alert)).size).toBe(RULES.length);
  });

  it("detect events alike: an increase, a new series on a target scraped 15 minutes ago, or a count of a new process", () => {
    const events = RULES.filter((rule) => rule.expr.includes("increase("));
    expect(events.map((rule) => rule.alert).sort()).toEqual([...EVENT_ALERTS].sort());
    for (const rule of events) {
      const [, by, counter] = /^sum by \(([^)]*)\) \(\n {2}\(increase\((.+)\[15m\]\) > 0\)\n/.exec(rule.expr) ?? [];
      expect(counter, `${rule.alert} starts as the pattern does`).toBeTruthy();
      expect(rule.expr, rule.alert).toBe(eventExpr(by as string, counter as string));
    }
    // prom-client's default metrics, which the operator's registry serves, give every process its start time.
    expect(SERVED.get("process_start_time_seconds")).toBeDefined();
  });

  it("read only metrics the operator serves, by labels they have, with values the operator writes", () => {
    for (const rule of RULES) {
      expect(metricNames(rule.expr).length, rule.alert).toBeGreaterThan(0);
      expect(selectorProblems(rule.expr), rule.alert).toEqual([]);
    }
  });

  it("render into the PrometheusRule exactly as the file has them, when enabled and the API is served", () => {
    const docs = render(
      ["metrics.prometheusRule.enabled=true", "metrics.prometheusRule.labels.role=alert-rules"],
      MONITORING_API,
    );
    const rule = one(docs, "PrometheusRule");
    expect(rule.metadata.namespace).toBe("arf-system");
    expect(rule.metadata.labels.role).toBe("alert-rules");
    expect(rule.spec.groups).toEqual(RULE_GROUPS);
    // Off by default, and left out where the Prometheus Operator's API is not served (argo-cd's guard).
    expect(only(render([], MONITORING_API), "PrometheusRule")).toEqual([]);
    expect(only(render(["metrics.prometheusRule.enabled=true"]), "PrometheusRule")).toEqual([]);
  });

  it("take the runbook base, alert labels and disabled alerts from values, and drop ArfNoLeader without leader election", () => {
    const rendered = (...sets: string[]) =>
      one(
        render(["metrics.prometheusRule.enabled=true", ...sets], MONITORING_API),
        "PrometheusRule",
      ).spec.groups.flatMap((group: any) => group.rules) as Rule[];
    const custom = rendered(
      "metrics.prometheusRule.runbookBaseUrl=https://runbooks.example.com/arf/",
      "metrics.prometheusRule.alertLabels.team=platform",
      "metrics.prometheusRule.disabledAlerts={ArfReconcileErrors}",
    );
    expect(custom.map((r) => r.alert)).toEqual(RULES.map((r) => r.alert).filter((a) => a !== "ArfReconcileErrors"));
    for (const rule of custom) {
      expect(rule.annotations?.runbook_url).toBe(`https://runbooks.example.com/arf#${rule.alert.toLowerCase()}`);
      expect(rule.labels?.team).toBe("platform");
      expect(rule.labels?.severity).toBe(RULES.find((r) => r.alert === rule.alert)?.labels?.severity);
    }
    const single = rendered("leaderElection.enabled=false", "replicas=1").map((r) => r.alert);
    expect(single).not.toContain("ArfNoLeader");
    expect(single).toHaveLength(RULES.length - 1);
    expect(
      refusal(
        ["metrics.prometheusRule.enabled=true", "metrics.prometheusRule.disabledAlerts={ArfTypo}"],
        MONITORING_API,
      ),
    ).toContain('no alert is named "ArfTypo"');
  });
});

describe("the Grafana dashboard", () => {
  const panels = dashboardPanels().filter((panel) => panel.type !== "row");

  it("gives every panel at least one query, on the Prometheus data source variable", () => {
    expect(panels.length).toBeGreaterThan(10);
    for (const panel of panels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      expect(panel.datasource?.uid, panel.title).toBe(DATASOURCE_VARIABLE);
      for (const target of panel.targets ?? []) expect(target.datasource?.uid, panel.title).toBe(DATASOURCE_VARIABLE);
    }
  });

  it("yields one concrete query per panel target, with Grafana's variables replaced", () => {
    const queries = dashboardQueries();
    expect(queries).toHaveLength(panels.flatMap((panel) => panel.targets ?? []).length);
    for (const { panel, expr } of queries) {
      expect(expr, panel).not.toContain("$");
      expect(expr, panel).toMatch(/\S/);
    }
    expect(dashboardQueries({ interval: "30s" }).some((q) => q.expr.includes("[30s]"))).toBe(true);
  });

  it("has queries that Prometheus parses (promtool checks them as recording rules)", () => {
    const rules = dashboardQueries().map(({ expr }, index) => ({ record: `arf:dashboard_query_${index}`, expr }));
    const dir = mkdtempSync(join(tmpdir(), "arf-dashboard-"));
    try {
      const file = join(dir, "queries.yaml");
      writeFileSync(file, stringify({ groups: [{ name: "dashboard", rules }] }));
      const check = run(PROMTOOL, ["check", "rules", file]);
      expect(check.ok, check.stdout + check.stderr).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads only metrics the operator serves, by labels they have, with values the operator writes", () => {
    for (const { panel, expr } of dashboardQueries()) {
      expect(metricNames(expr).length, panel).toBeGreaterThan(0);
      expect(selectorProblems(expr), `${panel}: ${expr}`).toEqual([]);
    }
    // The checks themselves: names found (functions, keywords, labels and durations not), and wrong ones caught.
    expect(
      metricNames('sum by (le) (rate(a_bucket{x="y"}[5m])) / on (job) b offset 15m and c unless vector(0)'),
    ).toEqual(["a_bucket", "b", "c"]);
    expect(selectorProblems('rate(arf_auto_rollback_reaction_seconds_bucket{le="+Inf", job="arf"}[1m])')).toEqual([]);
    expect(
      selectorProblems('arf_no_such_total + arf_executions_total{result="FAILED"} + arf_executions_total{phase="x"}'),
    ).toEqual([
      "arf_no_such_total is not served",
      'arf_executions_total{result="FAILED"}: no operator source writes "FAILED"',
      "arf_executions_total has no label phase",
    ]);
  });

  it("shows which key licenses are verified against, vendor or override, among panels that do not overlap", () => {
    const key = panels.find((panel) => panel.title === "License key");
    expect(key?.type).toBe("stat");
    expect(key?.targets?.map((target) => target.expr)).toEqual([
      'max by (source) (arf_license_public_key_info{job=~"$job"})',
    ]);
    expect(OPERATOR_SOURCES).toContain('"override"');
    expect(OPERATOR_SOURCES).toContain('"vendor"');
    const overlaps: string[] = [];
    panels.forEach((a, i) => {
      for (const b of panels.slice(i + 1)) {
        const [p, q] = [a.gridPos, b.gridPos];
        if (p && q && p.x < q.x + q.w && q.x < p.x + p.w && p.y < q.y + q.h && q.y < p.y + p.h)
          overlaps.push(`${a.title} / ${b.title}`);
      }
    });
    expect(overlaps).toEqual([]);
    for (const panel of panels)
      expect(panel.gridPos && panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
  });

  it("ships in an optional ConfigMap that Grafana's sidecar picks up", () => {
    expect(only(render(), "ConfigMap")).toEqual([]);
    const configMap = one(
      render([
        "grafanaDashboard.enabled=true",
        "grafanaDashboard.namespace=monitoring",
        "grafanaDashboard.labels.team=platform",
        "grafanaDashboard.annotations.grafana_folder=ARF",
      ]),
      "ConfigMap",
    );
    expect(configMap.metadata.namespace).toBe("monitoring");
    expect(configMap.metadata.labels).toMatchObject({ grafana_dashboard: "1", team: "platform" });
    expect(configMap.metadata.annotations).toEqual({ grafana_folder: "ARF" });
    expect(JSON.parse(configMap.data["arf-operator.json"])).toEqual(
      JSON.parse(readFileSync(join(CHART, "files", "dashboard.json"), "utf8")),
    );
  });
});

describe("the chart's values", () => {
  it("pass helm lint --strict, by default and with every optional object on", () => {
    for (const sets of [[], EVERYTHING, ["metrics.podMonitor.enabled=true", "edition=licensed"]]) {
      const lint = run(HELM, ["lint", "--strict", ...helmArgs(sets, [])]);
      expect(lint.ok, `helm lint --strict ${sets.join(" ")}\n${lint.stdout}${lint.stderr}`).toBe(true);
    }
  });

  it("are checked against values.schema.json, whose errors name the value", () => {
    expect(refusal(["edition=enterprise"])).toMatch(/at '\/edition': value must be one of 'oss', 'licensed'/);
    expect(refusal(["workers=abc"])).toMatch(/at '\/workers': got string, want integer/);
    expect(refusal(["workers=65"])).toMatch(/at '\/workers'/);
    expect(refusal(["logLevel=verbose"])).toMatch(/at '\/logLevel'/);
    expect(refusal(["enterprise=true"])).toMatch(/additional properties 'enterprise' not allowed/);
    expect(refusal(["metrics.serviceMonitor.intervall=30s"])).toMatch(
      /at '\/metrics\/serviceMonitor': additional properties 'intervall' not allowed/,
    );
    expect(refusal(["leaderElection.leaseDuration=15 seconds"])).toMatch(
      /at '\/leaderElection\/leaseDuration': '15 seconds' does not match pattern/,
    );
    expect(refusal(["metrics.podMonitor.scrapeTimeout=10"])).toMatch(/at '\/metrics\/podMonitor\/scrapeTimeout'/);
    expect(refusal(["runAsUser=0"])).toMatch(/at '\/runAsUser'/);
    expect(refusal(["additionalLabels.release=not a label value"])).toMatch(/at '\/additionalLabels\/release'/);
    expect(refusal(["topologySpreadConstraints[0].maxSkew=1"])).toMatch(/at '\/topologySpreadConstraints\/0'/);
    expect(refusal(["networkPolicy.egress.dns.ports={53,70000}"])).toMatch(
      /at '\/networkPolicy\/egress\/dns\/ports\/1': maximum/,
    );
  });

  it("refuse a private key as the license key override, naming the value", () => {
    for (const pem of [
      "-----BEGIN PRIVATE KEY-----MC4CAQAwBQYDK2VwBCIEIG-----END PRIVATE KEY-----",
      "-----BEGIN OPENSSH PRIVATE KEY-----b3BlbnNzaC1rZXktdjE-----END OPENSSH PRIVATE KEY-----",
      "-----BEGIN ENCRYPTED PRIVATE KEY-----MIIBvTBXBgkqhkiG9w0B-----END ENCRYPTED PRIVATE KEY-----",
    ]) {
      expect(refusal(["edition=licensed", `license.unsafePublicKeyOverride=${pem}`])).toMatch(
        /at '\/license\/unsafePublicKeyOverride': 'not' failed/,
      );
    }
    const publicKey =
      "-----BEGIN PUBLIC KEY-----MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE-----END PUBLIC KEY-----";
    const env = one(render(["edition=licensed", `license.unsafePublicKeyOverride=${publicKey}`]), "Deployment").spec
      .template.spec.containers[0].env;
    expect(env).toContainEqual({ name: "ARF_UNSAFE_LICENSE_PUBLIC_KEY_OVERRIDE", value: publicKey });
  });

  it("check leader election durations with the operator's own duration syntax", () => {
    const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8"));
    expect(schema.definitions.goDuration.pattern).toBe(GO_DURATION_PATTERN);
  });

  it("declare every key values.yaml sets, at every level", () => {
    const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8"));
    const resolve = (node: any): any =>
      node?.$ref ? resolve(schema.definitions[node.$ref.replace("#/definitions/", "")]) : node;
    const undeclared: string[] = [];
    const walk = (values: any, node: any, path: string) => {
      const resolved = resolve(node);
      if (values === null || typeof values !== "object" || Array.isArray(values)) return;
      if (resolved?.properties) {
        expect(resolved.additionalProperties, `${path || "/"} is closed`).toBe(false);
        for (const [key, value] of Object.entries(values)) {
          if (!(key in resolved.properties)) undeclared.push(`${path}/${key}`);
          else walk(value, resolved.properties[key], `${path}/${key}`);
        }
      }
    };
    walk(parse(readFileSync(join(CHART, "values.yaml"), "utf8")), schema, "");
    expect(undeclared).toEqual([]);
  });
});

describe("the metrics Service and monitors", () => {
  it("expose /metrics on a ClusterIP Service that selects the Deployment's Pods", () => {
    const docs = render();
    const deployment = one(docs, "Deployment");
    const service = one(docs, "Service");
    expect(service.spec.type).toBe("ClusterIP");
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    expect(service.spec.ports).toEqual([{ name: "http-metrics", port: 8080, targetPort: "http", protocol: "TCP" }]);
    expect(deployment.spec.template.spec.containers[0].ports).toContainEqual({ name: "http", containerPort: 8080 });
  });

  it("scrape with a ServiceMonitor or a PodMonitor, off by default, never both", () => {
    const defaults = render();
    expect(only(defaults, "ServiceMonitor")).toEqual([]);
    expect(only(defaults, "PodMonitor")).toEqual([]);
    const serviceMonitor = one(
      render(["metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.interval=1m"]),
      "ServiceMonitor",
    );
    expect(serviceMonitor.spec.endpoints).toEqual([
      { port: "http-metrics", path: "/metrics", interval: "1m", scrapeTimeout: "10s", honorLabels: true },
    ]);
    expect(serviceMonitor.spec.namespaceSelector).toEqual({ matchNames: ["arf-system"] });
    const podMonitor = one(render(["metrics.podMonitor.enabled=true"]), "PodMonitor");
    expect(podMonitor.spec.podMetricsEndpoints[0]).toMatchObject({ port: "http", path: "/metrics" });
    expect(podMonitor.spec.selector.matchLabels).toEqual(one(defaults, "Deployment").spec.selector.matchLabels);
    expect(refusal(["metrics.serviceMonitor.enabled=true", "metrics.podMonitor.enabled=true"])).toContain(
      "metrics.serviceMonitor.enabled and metrics.podMonitor.enabled are both true",
    );
    expect(refusal(["metrics.serviceMonitor.enabled=true", "metrics.service.enabled=false"])).toContain(
      "metrics.serviceMonitor.enabled needs metrics.service.enabled",
    );
  });

  it("put additionalLabels on every object, and each monitor's own labels on it alone", () => {
    const docs = render([...EVERYTHING, "metrics.prometheusRule.labels.role=alert-rules"], MONITORING_API);
    expect(docs.map((d) => d.kind).sort()).toEqual(
      [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "PrometheusRule",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
        // Generated by hack/gen-crds.ts, with labels of its own.
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
      ].sort(),
    );
    for (const doc of docs.filter((d) => !d.kind.startsWith("ValidatingAdmissionPolicy")))
      expect(doc.metadata.labels?.release, `${doc.kind} ${doc.metadata.name}`).toBe("kube-prometheus-stack");
    expect(one(docs, "Deployment").spec.template.metadata.labels.release).toBe("kube-prometheus-stack");
    expect(one(docs, "ServiceMonitor").metadata.labels["scraped-by"]).toBe("prometheus");
    expect(one(docs, "PrometheusRule").metadata.labels.role).toBe("alert-rules");
    expect(
      docs
        .filter((d) => d.metadata.labels?.["scraped-by"] || d.metadata.labels?.role)
        .map((d) => d.kind)
        .sort(),
    ).toEqual(["PrometheusRule", "ServiceMonitor"]);
    // The chart's own labels, which selectors rely on, cannot be overridden.
    const clash = render(["additionalLabels.app\\.kubernetes\\.io/instance=other"]);
    expect(one(clash, "Deployment").spec.template.metadata.labels["app.kubernetes.io/instance"]).toBe("arf");
  });
});

describe("availability and isolation", () => {
  it("limit evictions to one replica at a time with two replicas, and leave the PDB out with one replica", () => {
    const pdb = one(render(), "PodDisruptionBudget");
    expect(pdb.spec).toEqual({
      selector: { matchLabels: one(render(), "Deployment").spec.selector.matchLabels },
      minAvailable: 1,
      unhealthyPodEvictionPolicy: "AlwaysAllow",
    });
    expect(one(render(["podDisruptionBudget.maxUnavailable=50%"]), "PodDisruptionBudget").spec.maxUnavailable).toBe(
      "50%",
    );
    expect(only(render(["leaderElection.enabled=false", "replicas=1"]), "PodDisruptionBudget")).toEqual([]);
    expect(only(render(["podDisruptionBudget.enabled=false"]), "PodDisruptionBudget")).toEqual([]);
    expect(refusal(["podDisruptionBudget.minAvailable=1", "podDisruptionBudget.maxUnavailable=1"])).toContain(
      "set minAvailable or maxUnavailable, not both",
    );
  });

  it("refuse PDB values that would block every drain, naming the value and how to turn the PDB off", () => {
    const refused = {
      "podDisruptionBudget.maxUnavailable=0": "podDisruptionBudget.maxUnavailable 0 would block every node drain",
      "podDisruptionBudget.maxUnavailable=0%": 'podDisruptionBudget.maxUnavailable "0%" would block every node drain',
      "podDisruptionBudget.minAvailable=2":
        "podDisruptionBudget.minAvailable 2 with 2 replicas would block every node drain",
      "podDisruptionBudget.minAvailable=100%":
        'podDisruptionBudget.minAvailable "100%" of 2 replicas rounds up to 2, all of them, and would block every node drain',
      // Kubernetes rounds a percentage up: 51% of 2 is 2.
      "podDisruptionBudget.minAvailable=51%": 'podDisruptionBudget.minAvailable "51%" of 2 replicas rounds up to 2',
    };
    for (const [set, message] of Object.entries(refused)) {
      const stderr = refusal([set]);
      expect(stderr, set).toContain(message);
      expect(stderr, set).toContain("or set podDisruptionBudget.enabled false");
    }
    expect(refusal(["replicas=3", "podDisruptionBudget.minAvailable=67%"])).toContain("rounds up to 3");
    expect(refusal(["replicas=3", "podDisruptionBudget.minAvailable=3"])).toContain("with 3 replicas would block");
    // Just short of that is accepted.
    const spec = (...sets: string[]) => one(render(sets), "PodDisruptionBudget").spec;
    expect(spec("podDisruptionBudget.minAvailable=50%").minAvailable).toBe("50%");
    expect(spec("replicas=3", "podDisruptionBudget.minAvailable=66%").minAvailable).toBe("66%");
    expect(spec("replicas=3", "podDisruptionBudget.minAvailable=2").minAvailable).toBe(2);
    expect(spec("podDisruptionBudget.maxUnavailable=1%").maxUnavailable).toBe("1%");
    expect(spec("podDisruptionBudget.maxUnavailable=1").maxUnavailable).toBe(1);
  });

  it("prefer one replica per node unless values set an affinity, and pass topologySpreadConstraints through", () => {
    const pod = (...sets: string[]) => one(render(sets), "Deployment").spec.template;
    const template = pod();
    const selector = one(render(), "Deployment").spec.selector.matchLabels;
    expect(template.spec.affinity).toEqual({
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: selector } },
          },
        ],
      },
    });
    expect(template.metadata.labels).toMatchObject(selector);
    expect(pod("replicas=3").spec.affinity).toEqual(template.spec.affinity);
    expect(pod("leaderElection.enabled=false", "replicas=1").spec.affinity).toBeUndefined();
    // An affinity of the user's replaces the default entirely.
    expect(
      pod(
        "affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey=kubernetes.io/hostname",
      ).spec.affinity,
    ).toEqual({
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: "kubernetes.io/hostname" }] },
    });
    expect(
      pod("affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight=1").spec.affinity,
    ).toEqual({ nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1 }] } });
    // Spread constraints: none by default; given ones as they are, the Pods' labels where they name none.
    expect(template.spec.topologySpreadConstraints).toBeUndefined();
    const zone = [
      "topologySpreadConstraints[0].maxSkew=1",
      "topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone",
      "topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway",
      "topologySpreadConstraints[1].maxSkew=2",
      "topologySpreadConstraints[1].topologyKey=kubernetes.io/hostname",
      "topologySpreadConstraints[1].whenUnsatisfiable=DoNotSchedule",
      "topologySpreadConstraints[1].labelSelector.matchLabels.tier=control",
      "topologySpreadConstraints[1].matchLabelKeys[0]=pod-template-hash",
    ];
    expect(pod(...zone).spec.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: "topology.kubernetes.io/zone",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: selector },
      },
      {
        maxSkew: 2,
        topologyKey: "kubernetes.io/hostname",
        whenUnsatisfiable: "DoNotSchedule",
        labelSelector: { matchLabels: { tier: "control" } },
        matchLabelKeys: ["pod-template-hash"],
      },
    ]);
    expect(pod(...zone).spec.affinity).toEqual(template.spec.affinity);
  });

  it("restrict the operator's traffic with an optional NetworkPolicy: metrics and probes in; API server, DNS and Prometheus out", () => {
    expect(only(render(), "NetworkPolicy")).toEqual([]);
    const policy = one(
      render([
        "networkPolicy.enabled=true",
        "prometheusUrl=http://prometheus.monitoring.svc:9091",
        "networkPolicy.ingressFrom[0].namespaceSelector.matchLabels.name=monitoring",
      ]),
      "NetworkPolicy",
    );
    expect(policy.spec.podSelector.matchLabels).toEqual(one(render(), "Deployment").spec.selector.matchLabels);
    expect(policy.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(policy.spec.ingress).toEqual([
      {
        ports: [{ port: "http", protocol: "TCP" }],
        from: [{ namespaceSelector: { matchLabels: { name: "monitoring" } } }],
      },
    ]);
    const egressPorts = policy.spec.egress.map((rule: any) =>
      rule.ports.map((p: any) => `${p.port}/${p.protocol}`).join(" "),
    );
    expect(egressPorts).toEqual(["443/TCP 6443/TCP", "53/UDP 53/TCP", "9090/TCP 9091/TCP"]);
    // OpenShift's DNS Pods listen on 5353 behind the Service's 53: the backend port is what a policy sees.
    const openshift = one(
      render(["networkPolicy.enabled=true", "networkPolicy.egress.dns.ports={5353}"]),
      "NetworkPolicy",
    );
    expect(openshift.spec.egress[1].ports).toEqual([
      { port: 5353, protocol: "UDP" },
      { port: 5353, protocol: "TCP" },
    ]);
    const both = one(
      render(["networkPolicy.enabled=true", "networkPolicy.egress.dns.ports={53,5353}"]),
      "NetworkPolicy",
    );
    expect(both.spec.egress[1].ports.map((p: any) => `${p.port}/${p.protocol}`)).toEqual([
      "53/UDP",
      "53/TCP",
      "5353/UDP",
      "5353/TCP",
    ]);
  });
});

/**
 * The Pod Security Standards' restricted profile (which includes baseline), as the API server's
 * pod-security admission checks it in Kubernetes 1.30+. Returns what a Pod spec violates.
 */
function restrictedViolations(spec: any, annotations: Record<string, string> = {}): string[] {
  const violations: string[] = [];
  const containers: any[] = [
    ...(spec.initContainers ?? []),
    ...(spec.containers ?? []),
    ...(spec.ephemeralContainers ?? []),
  ];
  const pod = spec.securityContext ?? {};
  const each = (check: (c: any, sc: any) => string | undefined) => {
    for (const c of containers) {
      const problem = check(c, c.securityContext ?? {});
      if (problem) violations.push(`container ${c.name}: ${problem}`);
    }
  };
  // Baseline.
  for (const host of ["hostNetwork", "hostPID", "hostIPC"]) if (spec[host]) violations.push(`${host} is true`);
  if (pod.windowsOptions?.hostProcess) violations.push("pod hostProcess");
  each((_, sc) => (sc.windowsOptions?.hostProcess ? "hostProcess" : undefined));
  each((_, sc) => (sc.privileged ? "privileged" : undefined));
  each((c) => ((c.ports ?? []).some((p: any) => p.hostPort) ? "hostPort" : undefined));
  each((_, sc) => (sc.procMount && sc.procMount !== "Default" ? `procMount ${sc.procMount}` : undefined));
  const seLinuxTypes = ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];
  for (const se of [pod.seLinuxOptions, ...containers.map((c) => c.securityContext?.seLinuxOptions)].filter(Boolean)) {
    if (!seLinuxTypes.includes(se.type ?? "") || se.user || se.role) violations.push("seLinuxOptions");
  }
  const appArmor = [pod.appArmorProfile, ...containers.map((c) => c.securityContext?.appArmorProfile)];
  if (appArmor.some((p) => p?.type === "Unconfined")) violations.push("appArmorProfile Unconfined");
  if (
    Object.entries(annotations).some(
      ([k, v]) => k.startsWith("container.apparmor.security.beta.kubernetes.io/") && v === "unconfined",
    )
  )
    violations.push("AppArmor annotation unconfined");
  const safeSysctls = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
  ];
  for (const sysctl of pod.sysctls ?? [])
    if (!safeSysctls.includes(sysctl.name)) violations.push(`sysctl ${sysctl.name}`);
  // Restricted.
  const volumeTypes = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
  ];
  for (const volume of spec.volumes ?? []) {
    const type = Object.keys(volume).find((k) => k !== "name");
    if (!type || !volumeTypes.includes(type)) violations.push(`volume ${volume.name} of type ${type}`);
  }
  each((_, sc) => (sc.allowPrivilegeEscalation === false ? undefined : "allowPrivilegeEscalation is not false"));
  each((_, sc) =>
    sc.runAsNonRoot === false || (sc.runAsNonRoot !== true && pod.runAsNonRoot !== true)
      ? "runAsNonRoot is not true"
      : undefined,
  );
  if (pod.runAsUser === 0) violations.push("pod runAsUser 0");
  each((_, sc) => (sc.runAsUser === 0 ? "runAsUser 0" : undefined));
  const allowedSeccomp = ["RuntimeDefault", "Localhost"];
  if (pod.seccompProfile && !allowedSeccomp.includes(pod.seccompProfile.type)) violations.push("pod seccompProfile");
  each((_, sc) => {
    const type = sc.seccompProfile?.type ?? pod.seccompProfile?.type;
    return allowedSeccomp.includes(type) ? undefined : `seccompProfile ${type ?? "unset"}`;
  });
  each((_, sc) => (sc.capabilities?.drop?.includes("ALL") ? undefined : "capabilities do not drop ALL"));
  each((_, sc) =>
    (sc.capabilities?.add ?? []).some((cap: string) => cap !== "NET_BIND_SERVICE") ? "adds capabilities" : undefined,
  );
  return violations;
}

describe("the operator's Pod", () => {
  it("meets the restricted Pod Security Standard, in both editions", () => {
    for (const edition of ["oss", "licensed"]) {
      const template = one(render([`edition=${edition}`]), "Deployment").spec.template;
      expect(restrictedViolations(template.spec, template.metadata.annotations)).toEqual([]);
    }
    // The checker is not vacuous: a weakened copy fails it.
    const template = one(render(), "Deployment").spec.template;
    const weakened = structuredClone(template.spec);
    weakened.securityContext = {};
    weakened.hostNetwork = true;
    weakened.containers[0].securityContext.capabilities = { add: ["SYS_ADMIN"] };
    expect(restrictedViolations(weakened)).toEqual([
      "hostNetwork is true",
      "container operator: runAsNonRoot is not true",
      "container operator: seccompProfile unset",
      "container operator: capabilities do not drop ALL",
      "container operator: adds capabilities",
    ]);
  });

  it("passes a license key override to the licensed edition only, under the name the operator reads", () => {
    const env = (edition: string) =>
      one(render([`edition=${edition}`, "license.unsafePublicKeyOverride=PEM"]), "Deployment").spec.template.spec
        .containers[0].env;
    expect(env("licensed")).toContainEqual({ name: "ARF_UNSAFE_LICENSE_PUBLIC_KEY_OVERRIDE", value: "PEM" });
    expect(env("oss").map((e: any) => e.name)).not.toContain("ARF_UNSAFE_LICENSE_PUBLIC_KEY_OVERRIDE");
  });

  it("runs as the image's numeric user, or as the platform assigns with null", () => {
    const dockerfileUser = /^USER (\d+):(\d+)$/m.exec(readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8"));
    const pod = one(render(), "Deployment").spec.template.spec.securityContext;
    expect([String(pod.runAsUser), String(pod.runAsGroup)]).toEqual([dockerfileUser?.[1], dockerfileUser?.[2]]);
    const assigned = one(render(["runAsUser=null", "runAsGroup=null"]), "Deployment").spec.template.spec
      .securityContext;
    expect(assigned).toEqual({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
  });
});
