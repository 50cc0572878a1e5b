import pino from "pino";
import { describe, expect, it } from "vitest";
import { OperatorMetrics } from "../metrics.ts";
import { FakeClock } from "../runtime/fake-clock.ts";
import { generateKeyPair, issueLicense, type LicenseState, parsePublicKey } from "./license.ts";
import { LicenseManager, type LicenseSource } from "./manager.ts";

const keys = generateKeyPair();
const publicKey = parsePublicKey(keys.publicKeyPem);
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A license Secret whose reads the test answers by hand, in any order. */
class ManualSource implements LicenseSource {
  readonly reads: Array<{ resolve(token: string | undefined): void; reject(error: Error): void }> = [];
  token() {
    return new Promise<string | undefined>((resolve, reject) => this.reads.push({ resolve, reject }));
  }
  async clusterUID() {
    return "uid-1";
  }
}

function setup() {
  const clock = new FakeClock();
  const source = new ManualSource();
  const changes: string[] = [];
  const manager = new LicenseManager(
    source,
    publicKey,
    undefined,
    { clock, log: pino({ level: "silent" }), metrics: new OperatorMetrics(), events: { record: async () => {} } },
    (state: LicenseState) => {
      changes.push(state.state === "Valid" ? `Valid:${state.license.id}` : state.state);
    },
  );
  const t = Math.floor(clock.now().getTime() / 1000);
  const license = (id: string, expiresIn = 3600) =>
    issueLicense(
      {
        id,
        licensee: "Acme",
        edition: "licensed",
        features: ["execute"],
        issuedAt: t - 100,
        notBefore: t - 100,
        expiresAt: t + expiresIn,
      },
      keys.privateKeyPem,
    );
  return { clock, source, changes, manager, license };
}

describe("LicenseManager", () => {
  it("checks one at a time: the next check starts an interval after the previous one finished", async () => {
    const { clock, source, manager, license } = setup();
    const starting = manager.start(1000);
    await flush();
    source.reads[0]?.resolve(license("a"));
    await starting;
    clock.advance(1000);
    await flush();
    expect(source.reads).toHaveLength(2); // the second check is reading, and hangs for a while
    clock.advance(5000);
    await flush();
    expect(source.reads).toHaveLength(2); // no overlapping check while it is in flight
    source.reads[1]?.resolve(license("a"));
    await flush();
    clock.advance(999);
    await flush();
    expect(source.reads).toHaveLength(2);
    clock.advance(1);
    await flush();
    expect(source.reads).toHaveLength(3);
    manager.stop();
    source.reads[2]?.resolve(license("a"));
    await flush();
    clock.advance(10_000);
    await flush();
    expect(source.reads).toHaveLength(3);
  });

  it("ignores a result that is older than one already applied", async () => {
    const { source, changes, manager, license } = setup();
    const first = manager.check();
    await flush();
    source.reads[0]?.resolve(license("a"));
    await first;
    const older = manager.check(); // reads the Secret while it still holds license "a"; slow to answer
    const newer = manager.check(); // reads it after it was removed
    await flush();
    source.reads[2]?.resolve(undefined);
    await newer;
    expect(manager.current().state).toBe("Missing");
    source.reads[1]?.resolve(license("a"));
    await older;
    expect(manager.current().state).toBe("Missing");
    expect(changes).toEqual(["Valid:a", "Missing"]);
  });

  it("treats a read that never answers as a failed read, and keeps checking", async () => {
    const { clock, source, changes, manager, license } = setup();
    const starting = manager.start(1000);
    await flush();
    source.reads[0]?.resolve(license("a", 30));
    await starting;
    expect(changes).toEqual(["Valid:a"]);
    // Every later read hangs: a valid license is kept until it expires, then dropped.
    for (let i = 0; i < 6; i++) {
      clock.advance(11_000);
      await flush();
    }
    expect(source.reads.length).toBeGreaterThan(3);
    expect(manager.current().state).toBe("Missing");
    expect(changes).toEqual(["Valid:a", "Missing"]);
    manager.stop();
  });
});
