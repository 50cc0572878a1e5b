// The Grafana dashboard's PromQL (charts/arf-operator/files/dashboard.json), one entry per panel target,
// with Grafana's variables replaced by concrete values, so a test can run every query against a real
// Prometheus and see that it parses and finds the operator's series.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const DASHBOARD_PATH = join(import.meta.dirname, "..", "charts", "arf-operator", "files", "dashboard.json");

export interface DashboardQuery {
  /** The panel's title. */
  panel: string;
  expr: string;
}

export interface DashboardPanel {
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Array<{ refId?: string; expr?: string; datasource?: { type?: string; uid?: string } }>;
  /** Where the panel sits, in Grafana's 24-column grid. */
  gridPos?: { h: number; w: number; x: number; y: number };
  /** A collapsed row keeps its panels here. */
  panels?: DashboardPanel[];
}

/** Every panel, rows' nested panels included, in the dashboard's order. */
export function dashboardPanels(path = DASHBOARD_PATH): DashboardPanel[] {
  const dashboard = JSON.parse(readFileSync(path, "utf8")) as { panels: DashboardPanel[] };
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

export interface Substitutions {
  /** Replaces $__rate_interval and $__interval. */
  interval?: string;
  /** Replaces $__range. */
  range?: string;
  /** Replaces $job, which the dashboard matches as a regular expression. */
  job?: string;
}

export function dashboardQueries(
  { interval = "1m", range = "1h", job = ".*" }: Substitutions = {},
  path = DASHBOARD_PATH,
): DashboardQuery[] {
  return dashboardPanels(path).flatMap((panel) =>
    (panel.targets ?? []).map((target) => {
      const expr = (target.expr ?? "")
        .replaceAll("$__rate_interval", interval)
        .replaceAll("$__interval", interval)
        .replaceAll("$__range", range)
        .replace(/\$\{job\}|\$job\b/g, job);
      // A variable nobody replaced would reach Prometheus as a parse error far from its cause.
      const leftover = /\$\{?\w+/.exec(expr);
      if (leftover) throw new Error(`panel "${panel.title}": no value for ${leftover[0]} in ${expr}`);
      return { panel: panel.title, expr };
    }),
  );
}
