// Flux's source-controller and kustomize-controller (built by
// hack/build-binaries.sh, cached by version) run as processes against the
// local control plane, as the token user "flux-controller" (cluster-admin, as
// in a real Flux install). Their own CRDs come from the very modules built.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  type WriteStream,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { cacheDir } from "../../hack/cache-dirs.ts";
import { REPO_ROOT } from "./env.ts";
import { clientsFor, eventually, kubectl } from "./kube.ts";
import { freePort } from "./ports.ts";

export const FLUX_NAMESPACE = "flux-system";

export class TestFlux {
  private readonly children: ChildProcess[] = [];
  private readonly logs: WriteStream[] = [];
  private work = "";
  readonly logDir = join(REPO_ROOT, ".tmp", "e2e-logs");

  /** Applies Flux's CRDs, then starts both controllers and waits until they are healthy. */
  async start(): Promise<void> {
    this.work = mkdtempSync(join(tmpdir(), "arf-flux-"));
    const bin = cacheDir("flux_bin_dir");
    for (const file of readdirSync(join(bin, "crds"))) {
      await kubectl(["apply", "--server-side", "--field-manager=arf-e2e", "-f", join(bin, "crds", file)]);
    }
    for (const crd of ["gitrepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io"]) {
      await kubectl(["wait", "--for=condition=Established", `crd/${crd}`, "--timeout=60s"]);
    }
    await clientsFor("admin")
      .core.createNamespace({ body: { metadata: { name: FLUX_NAMESPACE } } })
      .catch((error) => {
        if (error?.code !== 409) throw error;
      });
    // A kubeconfig whose current context is Flux's own user.
    const kubeconfig = join(this.work, "kubeconfig");
    writeFileSync(
      kubeconfig,
      execFileSync(
        inject("kubectl"),
        [
          "--kubeconfig",
          inject("kubeconfig"),
          "config",
          "view",
          "--raw",
          "--minify",
          "--flatten",
          "--context",
          "arf-flux-controller",
        ],
        { encoding: "utf8" },
      ),
      { mode: 0o600 },
    );
    mkdirSync(this.logDir, { recursive: true });
    const storagePort = await freePort();
    mkdirSync(join(this.work, "storage"));
    // The controllers take no --kubeconfig flag; controller-runtime reads KUBECONFIG.
    const common = async () => [
      `--metrics-addr=127.0.0.1:${await freePort()}`,
      `--health-addr=127.0.0.1:${await freePort()}`,
      "--enable-leader-election=false",
      "--watch-all-namespaces=true",
      "--log-level=debug",
    ];
    const sourceArgs = [
      ...(await common()),
      `--storage-path=${join(this.work, "storage")}`,
      `--storage-addr=127.0.0.1:${storagePort}`,
      `--storage-adv-addr=127.0.0.1:${storagePort}`,
    ];
    const kustomizeArgs = [...(await common()), "--no-remote-bases=true"];
    const healthPorts = [sourceArgs, kustomizeArgs].map(
      (args) => (args.find((a) => a.startsWith("--health-addr=")) as string).split("=")[1],
    );
    this.spawn(join(bin, "source-controller"), sourceArgs, "flux-source-controller", kubeconfig);
    this.spawn(join(bin, "kustomize-controller"), kustomizeArgs, "flux-kustomize-controller", kubeconfig);
    for (const address of healthPorts) {
      const outcome = await eventually(`Flux controller on ${address} to be ready`, async () => {
        if (this.children.some((child) => child.exitCode !== null)) return "exited";
        const response = await fetch(`http://${address}/readyz`).catch(() => undefined);
        return response?.ok ? "ready" : undefined;
      });
      if (outcome === "exited") throw new Error(`a Flux controller exited; see its log in ${this.logDir}`);
    }
  }

  private spawn(binary: string, args: string[], name: string, kubeconfig: string): void {
    const child = spawn(binary, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, KUBECONFIG: kubeconfig, RUNTIME_NAMESPACE: FLUX_NAMESPACE },
    });
    const log = createWriteStream(join(this.logDir, `${name}.log`));
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.children.push(child);
    this.logs.push(log);
  }

  /** Stops both controllers: SIGTERM, then SIGKILL after 10 s. */
  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
            child.on("exit", () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill("SIGTERM");
          }),
      ),
    );
    for (const log of this.logs) log.end();
    if (this.work) rmSync(this.work, { recursive: true, force: true });
  }
}
