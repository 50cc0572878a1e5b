// Licenses for the licensed-edition e2e files: a key pair of the test's own,
// tokens bound to this cluster, the Secret the operator reads, the flags that
// point the operator at both, and the clean-up that leaves the cluster as
// other files expect it (only the OSS rights bound, no license).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPair, issueLicense, type LicensePayload } from "../../operator/license/license.ts";
import { clientsFor } from "./kube.ts";
import { OPERATOR_NAMESPACE } from "./operator.ts";

/** The chart's RBAC lets the operator read only this Secret name. */
export const LICENSE_SECRET = "arf-license";

export class TestLicenses {
  private readonly keys = generateKeyPair();
  readonly publicKeyPath: string;
  get publicKeyPem(): string {
    return this.keys.publicKeyPem;
  }
  private clusterUID = "";

  constructor() {
    const dir = mkdtempSync(join(tmpdir(), "arf-license-"));
    this.publicKeyPath = join(dir, "public.pem");
    writeFileSync(this.publicKeyPath, this.keys.publicKeyPem);
  }

  /** Licenses are bound to the cluster (the kube-system namespace's UID); call once before issue(). */
  async bindToCluster(): Promise<void> {
    this.clusterUID = (await clientsFor("admin").core.readNamespace({ name: "kube-system" })).metadata?.uid as string;
  }

  issue(overrides: Partial<LicensePayload> = {}): string {
    const now = Math.floor(Date.now() / 1000);
    return issueLicense(
      {
        id: `e2e-${now}-${Math.random().toString(16).slice(2, 8)}`,
        licensee: "E2E Corp",
        edition: "licensed",
        features: ["execute", "autoRollback"],
        issuedAt: now,
        notBefore: now - 60,
        expiresAt: now + 3600,
        clusterUID: this.clusterUID,
        ...overrides,
      },
      this.keys.privateKeyPem,
    );
  }

  /** Puts a token (a valid one by default) in the Secret the operator reads. */
  async install(token: string = this.issue(), namespace = OPERATOR_NAMESPACE): Promise<void> {
    const { core } = clientsFor("admin");
    await core.deleteNamespacedSecret({ name: LICENSE_SECRET, namespace }).catch(() => undefined);
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: LICENSE_SECRET }, stringData: { license: token } },
    });
  }

  /** The operator's flags for this Secret and key. */
  args(checkInterval = "1s"): string[] {
    return [
      `--license-secret=${OPERATOR_NAMESPACE}/${LICENSE_SECRET}`,
      `--unsafe-license-public-key-override=${this.publicKeyPath}`,
      `--license-check-interval=${checkInterval}`,
    ];
  }
}

/** Leader election fast enough for tests, under an id of the file's own. */
export const quickLeaseArgs = (id: string) => [
  `--leader-election-id=${id}`,
  "--lease-duration=3s",
  "--renew-deadline=2s",
  "--retry-period=500ms",
];

/** Leaves the cluster as other files expect it: only the OSS rights bound, and no license. */
export async function removeLicensedEdition(): Promise<void> {
  const { rbac, core } = clientsFor("admin");
  await rbac.deleteClusterRoleBinding({ name: "arf-licensed" }).catch(() => undefined);
  await core.deleteNamespacedSecret({ name: LICENSE_SECRET, namespace: OPERATOR_NAMESPACE }).catch(() => undefined);
}
