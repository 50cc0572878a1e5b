// A real Prometheus (Debian's package) on loopback, scraping a small exporter
// the test controls, for the auto-rollback windows.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { httpPrometheus } from "../../operator/rollback/prometheus.ts";
import { freePort } from "./ports.ts";

/** Polls until check returns a value (this module is also used by benchmarks, outside vitest). */
async function waitFor(what: string, check: () => Promise<true | undefined>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => undefined)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Serves arf_e2e_error_ratio{namespace} gauges whose values the test sets. */
export class TestExporter {
  private readonly values = new Map<string, number>();
  private server?: Server;
  port = 0;

  set(namespace: string, value: number | undefined): void {
    if (value === undefined) this.values.delete(namespace);
    else this.values.set(namespace, value);
  }

  async start(): Promise<void> {
    this.server = createServer((_request, response) => {
      const lines = ["# TYPE arf_e2e_error_ratio gauge"];
      for (const [namespace, value] of this.values)
        lines.push(`arf_e2e_error_ratio{namespace="${namespace}"} ${value}`);
      response.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" });
      response.end(`${lines.join("\n")}\n`);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

export class TestPrometheus {
  private process?: ChildProcess;
  readonly dir = mkdtempSync(join(tmpdir(), "arf-prometheus-"));
  port = 0;

  get url(): string {
    return `${this.tls ? "https" : "http"}://127.0.0.1:${this.port}`;
  }

  /** Serve HTTPS with this certificate and key (PEM file paths). */
  tls?: { cert: string; key: string };

  /**
   * Also scrape the targets listed in this file_sd file (Debian's Prometheus
   * has no Kubernetes discovery; PodTargets keeps such a file current).
   */
  targetsFile?: string;

  async start(exporterPort?: number): Promise<void> {
    if (!this.port) this.port = await freePort();
    const webConfig = join(this.dir, "web.yml");
    if (this.tls) {
      writeFileSync(webConfig, `tls_server_config:\n  cert_file: ${this.tls.cert}\n  key_file: ${this.tls.key}\n`);
    }
    writeFileSync(
      join(this.dir, "prometheus.yml"),
      [
        "global: { scrape_interval: 1s, evaluation_interval: 1s }",
        "scrape_configs:",
        ...(exporterPort
          ? ["  - job_name: e2e", `    static_configs: [{ targets: ["127.0.0.1:${exporterPort}"] }]`]
          : []),
        ...(this.targetsFile
          ? ["  - job_name: pods", `    file_sd_configs: [{ files: ["${this.targetsFile}"], refresh_interval: 1s }]`]
          : []),
        "",
      ].join("\n"),
    );
    this.process = spawn(
      "prometheus",
      [
        `--config.file=${join(this.dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(this.dir, "data")}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
        "--query.lookback-delta=5s",
        ...(this.tls ? [`--web.config.file=${webConfig}`] : []),
      ],
      { stdio: "ignore" },
    );
    await waitFor("Prometheus to be ready", async () => {
      if (this.tls) return (await this.query("up").catch(() => undefined)) !== undefined || undefined;
      const response = await fetch(`${this.url}/-/ready`).catch(() => undefined);
      return response?.ok ? true : undefined;
    });
  }

  /** The CA bundle that signs the TLS certificate, when serving HTTPS. */
  ca?: string;

  async query(query: string): Promise<number | undefined> {
    const answer = await httpPrometheus(2000, async () => (this.ca ? { ca: this.ca } : {})).query(this.url, query);
    if (!answer.ok) throw new Error(answer.error);
    return answer.value;
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
}
