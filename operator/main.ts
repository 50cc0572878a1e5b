// The operator process: configuration, informers, controllers, leader
// election, the HTTP server, and graceful shutdown.

import * as k8s from "@kubernetes/client-node";
import { APPROVALS_POLICY_NAME } from "./api/admission.ts";
import { GROUP, VERSION, type WorkloadKind } from "./api/index.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { type EditionWiring, wireLicensedEdition, wireOssEdition } from "./edition.ts";
import { judgeAdmission } from "./intent/admission.ts";
import { AdmissionTracker, kubeAdmissionNotes } from "./intent/admission-notes.ts";
import { kubeSnapshotWriter } from "./intent/execution.ts";
import { IntentIdIndex } from "./intent/id-index.ts";
import { kubeActionLedger } from "./intent/ledger.ts";
import {
  type ArfObject,
  type ClusterView,
  type HealingIntentObject,
  identityOf,
  makeIntentReconciler,
} from "./intent/reconciler.ts";
import { reuseConnections } from "./kube/connections.ts";
import {
  kubeAdmissionReader,
  kubeEventRecorder,
  kubeLiveLister,
  kubeRevisionReader,
  kubeSecretCredentials,
  kubeStatusWriter,
  kubeWorkloadReader,
} from "./kube/gateway.ts";
import { KeyedMutex } from "./lib/keyed-mutex.ts";
import { withGitOpsConditions } from "./lib/kstatus.ts";
import { type LicensePublicKey, licensePublicKey, VENDOR_PUBLIC_KEY_PATH } from "./license/license.ts";
import { LicenseManager, secretLicenseSource } from "./license/manager.ts";
import { createLogger } from "./log.ts";
import { OperatorMetrics } from "./metrics.ts";
import { APPROVAL_POLICY, makeValidationReconciler, ROLLBACK_PLAN } from "./policy/reconciler.ts";
import { makeWindowReconciler } from "./rollback/controller.ts";
import { httpPrometheus } from "./rollback/prometheus.ts";
import { systemClock } from "./runtime/clock.ts";
import { Controller } from "./runtime/controller.ts";
import { startHttpServer } from "./runtime/http.ts";
import { pagedList, ResilientInformer } from "./runtime/informer.ts";
import { kubeLeaseClient, LeaderElector, leadershipGuard, NotLeaderError } from "./runtime/leader.ts";

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`arf-operator: configuration error:\n${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  const clock = systemClock;
  const metrics = new OperatorMetrics();

  const kc = new k8s.KubeConfig();
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else kc.loadFromDefault();
  if (config.context) kc.setCurrentContext(config.context);
  reuseConnections(kc);

  // Every process starts as OSS; the licensed wiring (and with it the
  // executor) exists only while a verified license is in force.
  let wiring: EditionWiring = wireOssEdition(kc);
  const setEditionMetric = () => {
    metrics.editionInfo.reset();
    metrics.editionInfo.set({ edition: wiring.edition }, 1);
  };
  setEditionMetric();
  log.info({ identity: config.identity, server: kc.getCurrentCluster()?.server }, "starting in the OSS edition");

  // --- informers: handlers only enqueue keys.
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const ns = config.watchNamespace;
  const customPath = (plural: string) => `/apis/${GROUP}/${VERSION}${ns ? `/namespaces/${ns}` : ""}/${plural}`;
  // Lists go in pages (runtime/informer.ts pagedList), as raw JSON (as watch events arrive).
  const listRaw = <T extends k8s.KubernetesObject>(group: string, version: string, plural: string) =>
    pagedList<T>(
      (page) =>
        (ns
          ? custom.listNamespacedCustomObject({ group, version, namespace: ns, plural, ...page })
          : custom.listClusterCustomObject({ group, version, plural, ...page })) as Promise<
          k8s.KubernetesListObject<T>
        >,
    );
  const listCustom = <T extends ArfObject>(plural: string) => listRaw<T>(GROUP, VERSION, plural);
  const appsPath = (plural: string) => `/apis/apps/v1${ns ? `/namespaces/${ns}` : ""}/${plural}`;
  const informerOptions = { staleAfterMs: config.staleWatchTimeout, minRestartDelayMs: 500, maxRestartDelayMs: 60_000 };
  const informer = <T extends k8s.KubernetesObject>(name: string, path: string, list: k8s.ListPromise<T>) =>
    new ResilientInformer<T>(name, kc, path, list, log, clock, informerOptions);

  const intents = informer<HealingIntentObject>(
    "healingintents",
    customPath("healingintents"),
    listCustom<HealingIntentObject>("healingintents"),
  );
  const policies = informer<ArfObject>(
    "approvalpolicies",
    customPath("approvalpolicies"),
    listCustom("approvalpolicies"),
  );
  const plans = informer<ArfObject>("rollbackplans", customPath("rollbackplans"), listCustom("rollbackplans"));
  type AnyWorkload = k8s.V1Deployment | k8s.V1StatefulSet | k8s.V1DaemonSet;
  // Workloads are listed as raw JSON (as watch events arrive): client-node's typed
  // lists drop fields its models do not know, and plans and digests must see what
  // a live read sees.
  const listWorkloads = (plural: string) => listRaw<AnyWorkload>("apps", "v1", plural);
  const workloads: Record<WorkloadKind, ResilientInformer<AnyWorkload>> = {
    Deployment: informer<AnyWorkload>("deployments", appsPath("deployments"), listWorkloads("deployments")),
    StatefulSet: informer<AnyWorkload>("statefulsets", appsPath("statefulsets"), listWorkloads("statefulsets")),
    DaemonSet: informer<AnyWorkload>("daemonsets", appsPath("daemonsets"), listWorkloads("daemonsets")),
  };
  const allInformers = [intents, policies, plans, ...Object.values(workloads)];

  // Filed before any controller hears of a change, so a reconcile sees the intent it was queued for.
  const intentsById = new IntentIdIndex((object) => identityOf(object)?.intentId);
  intents.onChange((object) => {
    const { namespace = "", name = "" } = object.metadata ?? {};
    intentsById.update(namespace, name, intents.get(name, namespace));
  });
  const view: ClusterView = {
    intent: (namespace, name) => intents.get(name, namespace),
    intentsWithId: (namespace, intentId) => intentsById.withId(namespace, intentId),
    policies: (namespace) => policies.list(namespace),
    workload: (kind, namespace, name) => workloads[kind].get(name, namespace),
  };
  metrics.intentSource = () =>
    intents.list().map((i) => ({
      phase: (i.status as { phase?: string } | undefined)?.phase ?? "Pending",
      action: String((i.spec as { action?: string } | undefined)?.action ?? "unknown"),
    }));

  // --- controllers
  const statusWriter = kubeStatusWriter(
    kc,
    (plural, namespace, name, fields) =>
      log.warn({ plural, namespace, name, fields }, "status exceeded the CRD's bounds; truncated before writing"),
    (plural, status) => withGitOpsConditions(plural, status, clock.now()),
  );
  const revisions = kubeRevisionReader(kc);
  let droppedEvents = 0;
  // Events yield to decisions: filled in once the controllers exist.
  const decisionQueues: Array<{ readonly length: number }> = [];
  const events = kubeEventRecorder(kc, "arf-operator", config.identity, {
    busy: () => decisionQueues.some((queue) => queue.length > 0),
    onError: (error) => log.warn({ err: String(error) }, "could not record an event"),
    onDrop: () => {
      metrics.eventsDropped.inc();
      if (droppedEvents++ % 100 === 0) log.warn({ dropped: droppedEvents }, "event backlog full: dropping events");
    },
    onPending: (pending) => metrics.eventsPending.set(pending),
  });
  let elector: LeaderElector | undefined;
  // --- leadership (runtime/leader.ts): `leadership.assertLeader()` throws
  // NotLeaderError unless this replica leads right now (by the monotonic renew
  // deadline); call it immediately before every workload write.
  const leadership = leadershipGuard(() => elector);
  const mayAct = leadership.isLeader;
  // Since when the approvals admission policy has been in force is noted as soon as the licensed
  // edition runs, and kept current, so approvals on intents filed after that can be trusted.
  const admissionReader = kubeAdmissionReader(kc, APPROVALS_POLICY_NAME);
  const admissionTracker = new AdmissionTracker(kubeAdmissionNotes(kc, config.leaderElectionNamespace));
  const observeAdmission = async () => {
    if (wiring.edition !== "licensed" || !leadership.isLeader()) return;
    const { policy, binding } = await admissionReader(true);
    await admissionTracker.state(judgeAdmission(policy, binding), clock.now());
  };
  const admissionLoop = () =>
    clock.setTimeout(() => {
      observeAdmission()
        .catch((error) => log.warn({ err: String(error) }, "could not observe the approvals admission policy"))
        .finally(() => {
          if (!shuttingDown) admissionLoop();
        });
    }, 5_000);
  admissionLoop();
  // The operator's own namespace: only it (and cluster admins) can write there.
  const ledger = kubeActionLedger(kc, config.leaderElectionNamespace);
  // One decision or action per target at a time, across the intent and window controllers.
  const targetLocks = new KeyedMutex();
  const assertMayAct = () => {
    if (shuttingDown) throw new Error("shutting down: no new writes to workloads");
    leadership.assertLeader();
  };
  const intentController = new Controller(
    "healingintent",
    makeIntentReconciler({
      view,
      revisions,
      workloads: kubeWorkloadReader(kc),
      livePolicies: kubeLiveLister(kc, "approvalpolicies"),
      targetLocks,
      statusWriter,
      events,
      metrics,
      clock,
      wiring: () => wiring,
      admission: admissionReader,
      admissionTracker,
      execution: {
        statusWriter,
        events,
        metrics,
        clock,
        ledger,
        revisions,
        assertMayAct,
        prometheus: {
          query: (address: string, query: string) => prometheus.query(address, query),
        },
        ...(config.prometheusUrl ? { prometheusUrl: config.prometheusUrl } : {}),
        rollbackPlans: (namespace) => plans.list(namespace),
        snapshotWriter: kubeSnapshotWriter(kc),
        crashAfterAction: config.faultInjection === "crash-after-action",
      },
    }),
    log,
    metrics,
    clock,
    mayAct,
  );
  const policyController = new Controller(
    "approvalpolicy",
    makeValidationReconciler(APPROVAL_POLICY, (n, name) => policies.get(name, n) as never, statusWriter, events, clock),
    log,
    metrics,
    clock,
    mayAct,
  );
  const planController = new Controller(
    "rollbackplan",
    makeValidationReconciler(ROLLBACK_PLAN, (n, name) => plans.get(name, n) as never, statusWriter, events, clock),
    log,
    metrics,
    clock,
    mayAct,
  );
  const [authNamespace, authName] = config.prometheusAuthSecret?.split("/") ?? [];
  const prometheus = httpPrometheus(
    config.prometheusTimeout,
    authNamespace && authName ? kubeSecretCredentials(kc, authNamespace, authName) : undefined,
    config.prometheusUrl ? new URL(config.prometheusUrl).origin : undefined,
  );
  const windowController = new Controller(
    "rollbackwindow",
    makeWindowReconciler({
      plan: (n, name) => plans.get(name, n),
      workload: (kind, n, name) => workloads[kind].get(name, n),
      intent: (n, name) => intents.get(name, n),
      statusWriter,
      events,
      metrics,
      clock,
      wiring: () => wiring,
      ledger,
      prometheus,
      ...(config.prometheusUrl ? { prometheusUrl: config.prometheusUrl } : {}),
      assertMayAct,
      targetLocks,
    }),
    log,
    metrics,
    clock,
    mayAct,
  );
  const controllers = [intentController, policyController, planController, windowController];
  decisionQueues.push(...controllers.map((c) => c.queue));

  const enqueueIntentsIn = (
    namespace: string | undefined,
    filter: (i: HealingIntentObject) => boolean = () => true,
  ) => {
    for (const i of intents.list(namespace))
      if (filter(i)) intentController.enqueue(i.metadata?.namespace, i.metadata?.name);
  };
  intents.onChange((i) => intentController.enqueue(i.metadata?.namespace, i.metadata?.name));
  policies.onChange((p) => {
    policyController.enqueue(p.metadata?.namespace, p.metadata?.name);
    enqueueIntentsIn(p.metadata?.namespace);
  });
  plans.onChange((p) => {
    planController.enqueue(p.metadata?.namespace, p.metadata?.name);
    windowController.enqueue(p.metadata?.namespace, p.metadata?.name);
  });
  for (const [kind, workloadInformer] of Object.entries(workloads)) {
    workloadInformer.onChange((w) => {
      const targets = (o: { spec?: unknown }) => {
        const target = (o.spec as { target?: { kind?: string; name?: string } } | undefined)?.target;
        return target?.kind === kind && target?.name === w.metadata?.name;
      };
      enqueueIntentsIn(w.metadata?.namespace, targets);
      // An open window judges the workload's health as soon as it changes.
      for (const p of plans.list(w.metadata?.namespace))
        if (targets(p)) windowController.enqueue(p.metadata?.namespace, p.metadata?.name);
    });
  }

  // --- HTTP: health, readiness, metrics
  let shuttingDown = false;
  const server = await startHttpServer(
    config.httpHost,
    config.httpPort,
    {
      live: () => true,
      ready: () => {
        if (shuttingDown) return { ready: false, reason: "shutting down" };
        const unsynced = allInformers.filter((i) => !i.hasSynced()).map((i) => i.name);
        if (unsynced.length > 0) return { ready: false, reason: `caches not synced: ${unsynced.join(", ")}` };
        // A standby with warm caches is ready: it can take over at once, and a
        // Deployment whose standbys never became ready would never be Available
        // (helm --wait, kstatus, Argo CD). Who leads is in leader_election_master_status.
        if (elector && !elector.isLeader()) return { ready: true, reason: "ok: standing by, caches synced" };
        return { ready: true, reason: "ok" };
      },
    },
    metrics.registry,
  );
  const address = server.address();
  log.info({ address }, "serving /healthz, /readyz and /metrics");

  // --- license: verified offline; a change switches the edition without a restart.
  let publicKey: LicensePublicKey;
  try {
    publicKey = licensePublicKey(config.unsafeLicensePublicKeyOverride);
  } catch (error) {
    process.stderr.write(
      `arf-operator: configuration error:\ninvalid setting ${config.unsafeLicensePublicKeyOverride ? "--unsafe-license-public-key-override (ARF_UNSAFE_LICENSE_PUBLIC_KEY_OVERRIDE)" : `the vendor key ${VENDOR_PUBLIC_KEY_PATH}`}: not an Ed25519 PEM public key (${String(error)})\n`,
    );
    process.exit(2);
  }
  metrics.licensePublicKey.set({ source: publicKey.source, fingerprint: publicKey.fingerprint }, 1);
  metrics.licenseConfigured.set(config.licenseSecret ? 1 : 0);
  if (publicKey.source === "override") {
    log.warn(
      { fingerprint: publicKey.fingerprint },
      "LICENSE PUBLIC KEY OVERRIDDEN: licenses are verified against the key from --unsafe-license-public-key-override, not the vendor's; whoever holds its private key can issue licenses",
    );
  } else log.info({ fingerprint: publicKey.fingerprint }, "licenses are verified against the vendor's public key");
  const [secretNamespace, secretName] = config.licenseSecret?.split("/") ?? [];
  const license = new LicenseManager(
    config.licenseSecret ? secretLicenseSource(kc, secretNamespace as string, secretName as string) : undefined,
    publicKey.key,
    config.licenseSecret ? { namespace: secretNamespace as string, name: secretName as string } : undefined,
    { clock, log, metrics, events },
    async (state) => {
      wiring = state.state === "Valid" ? await wireLicensedEdition(kc) : wireOssEdition(kc);
      setEditionMetric();
      log.info({ edition: wiring.edition }, "edition changed");
      await observeAdmission().catch((error) =>
        log.warn({ err: String(error) }, "could not observe the approvals admission policy"),
      );
      // Every intent is looked at again under the new edition.
      for (const i of intents.list()) intentController.enqueue(i.metadata?.namespace, i.metadata?.name);
    },
  );

  // --- start: caches first (standbys keep them warm), then leadership, then workers.
  await Promise.all(allInformers.map((i) => i.start()));
  log.info("caches synced");
  await license.start(config.licenseCheckInterval);
  const startWorkers = () => {
    for (const c of controllers) c.start(config.workers);
    for (const i of intents.list()) intentController.enqueue(i.metadata?.namespace, i.metadata?.name);
    for (const p of policies.list()) policyController.enqueue(p.metadata?.namespace, p.metadata?.name);
    for (const p of plans.list()) {
      planController.enqueue(p.metadata?.namespace, p.metadata?.name);
      // Open windows resume on their own schedule under a new leader or process.
      windowController.enqueue(p.metadata?.namespace, p.metadata?.name);
    }
  };
  const leaderName = config.leaderElectionId;
  if (config.leaderElect) {
    elector = new LeaderElector(
      kubeLeaseClient(kc, config.leaderElectionNamespace, leaderName),
      {
        identity: config.identity,
        leaseDurationMs: config.leaseDuration,
        renewDeadlineMs: config.renewDeadline,
        retryPeriodMs: config.retryPeriod,
      },
      clock,
      log,
      {
        onStartedLeading: () => {
          metrics.leaderStatus.set({ name: leaderName }, 1);
          startWorkers();
        },
        onStoppedLeading: () => {
          // Reconciles in flight stop now (their ReconcileRequest.signal aborts), not after finishing on lost authority.
          for (const c of controllers) c.abortInFlight(new NotLeaderError("leadership lost"));
          metrics.leaderStatus.set({ name: leaderName }, 0);
          if (shuttingDown) return;
          // As controller-runtime does: a replica that lost the lease must not
          // act again on stale state; mayAct() already gates every reconcile,
          // and the process exits so it restarts clean.
          log.error("lost leadership; exiting");
          void shutdown(1);
        },
      },
    );
    metrics.leaderStatus.set({ name: leaderName }, 0);
    elector.start();
  } else {
    startWorkers();
  }

  async function shutdown(code: number): Promise<void> {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ deadlineMs: config.shutdownTimeout }, "shutting down: finishing in-flight reconciles");
    const finished = await Promise.all(controllers.map((c) => c.stop(config.shutdownTimeout)));
    if (finished.includes(false)) log.warn("shutdown deadline passed with reconciles still in flight");
    await elector?.stop();
    // Events still queued go out (bounded) after the lease is released, so a successor need not wait.
    await events.flush(2000);
    license.stop();
    await Promise.all(allInformers.map((i) => i.stop()));
    server.close();
    log.info("stopped");
    process.exit(code);
  }
  process.on("SIGTERM", () => void shutdown(0));
  process.on("SIGINT", () => void shutdown(0));
  process.on("unhandledRejection", (reason) => log.error({ err: String(reason) }, "unhandled rejection"));
}

main().catch((error) => {
  process.stderr.write(
    `arf-operator: fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
