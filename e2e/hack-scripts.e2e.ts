// hack/cluster-up.sh fails fast with a clear message, and leaves nothing
// running behind it, when it cannot start. Each run uses its own state dir and
// ports so the shared test cluster is untouched.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/env.ts";
import { clientsFor } from "./support/kube.ts";
import { freePort } from "./support/ports.ts";
import { REAL_NODE, realNodeEnabled } from "./support/real-node.ts";

/** Runs cluster-up.sh for a second, kwok-only cluster on ports free right now. */
async function clusterUp(env: Record<string, string>) {
  const clusterDir = mkdtempSync(join(tmpdir(), "arf-cluster-"));
  const result = spawnSync("bash", [join(REPO_ROOT, "hack", "cluster-up.sh")], {
    encoding: "utf8",
    timeout: 90_000,
    env: {
      ...process.env,
      ARF_CLUSTER_DIR: clusterDir,
      ARF_ETCD_PORT: String(await freePort()),
      ARF_ETCD_PEER_PORT: String(await freePort()),
      ARF_API_PORT: String(await freePort()),
      ARF_KWOK_PORT: String(await freePort()),
      // The machine has one real node at most: the shared cluster's.
      ARF_REAL_NODE: "0",
      ...env,
    },
  });
  return { ...result, clusterDir };
}

/** PIDs of processes whose command line mentions the given text. */
function processesMentioning(text: string): string[] {
  return readdirSync("/proc")
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => {
      try {
        return spawnSync("cat", [`/proc/${pid}/cmdline`], { encoding: "utf8" }).stdout.includes(text);
      } catch {
        return false;
      }
    });
}

describe("hack/cluster-up.sh", () => {
  it("refuses a port that is already taken, naming it", async () => {
    // The shared test cluster's API port is certainly taken.
    const takenPort = new URL(clientsFor("admin").kc.getCurrentCluster()?.server ?? "").port;
    const result = await clusterUp({ ARF_API_PORT: takenPort });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(`port 127.0.0.1:${takenPort} is already in use`);
    expect(processesMentioning(result.clusterDir)).toEqual([]);
  });

  it("names a missing binary instead of hanging", async () => {
    const result = await clusterUp({ ARF_CACHE: mkdtempSync(join(tmpdir(), "arf-empty-cache-")) });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/missing binary .*etcd; run hack\/build-binaries\.sh first/);
  });

  it("stops what it started and shows the failing log when a component dies", async () => {
    const result = await clusterUp({ ARF_APISERVER_EXTRA_ARGS: "--no-such-flag" });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("kube-apiserver exited while waiting for kube-apiserver readiness");
    expect(result.stderr).toContain("unknown flag: --no-such-flag");
    expect(processesMentioning(result.clusterDir)).toEqual([]);
    expect(existsSync(join(result.clusterDir, "logs", "kube-apiserver.log"))).toBe(true);
  });

  // Where the node cannot run at all (ARF_REAL_NODE=0), preflight stops earlier, at root or cgroups.
  it.skipIf(!realNodeEnabled())("says why the real node cannot run, before starting anything", () => {
    const result = spawnSync("bash", [join(REPO_ROOT, "hack", "real-node.sh"), "preflight"], {
      encoding: "utf8",
      env: { ...process.env, ARF_CACHE: mkdtempSync(join(tmpdir(), "arf-empty-cache-")) },
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/missing .*kubernetes-node-v[\d.]+\/kubelet; run hack\/build-binaries\.sh first/);
  });

  it.skipIf(!realNodeEnabled())(
    "keeps one real node per machine: another cluster may neither start a second nor tear down the first",
    async () => {
      const realNode = (args: string[]) =>
        spawnSync("bash", [join(REPO_ROOT, "hack", "real-node.sh"), ...args], {
          encoding: "utf8",
          env: { ...process.env, ARF_CLUSTER_DIR: mkdtempSync(join(tmpdir(), "arf-cluster-")) },
        });
      const second = realNode(["preflight"]);
      expect(second.status).not.toBe(0);
      expect(second.stderr).toMatch(/another cluster \(.*\) has the real node on this machine; stop it first/);
      // Its teardown leaves the shared node alone: still Ready, its address still there.
      expect(realNode(["down"]).status).toBe(0);
      expect(spawnSync("ip", ["link", "show", "arf0"]).status).toBe(0);
      const node = await clientsFor("admin").core.readNode({ name: REAL_NODE });
      expect(node.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
      expect(node.spec?.unschedulable).toBeFalsy();
    },
  );
});
