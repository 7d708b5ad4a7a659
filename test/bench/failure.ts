import type http from "node:http";
import type { BenchContext } from "./context.ts";
import { registerAt, startDependent, type Dependent } from "./dependent.ts";
import { setTimeout as delay } from "node:timers/promises";
import { startNode, type Listening } from "../support/spawn.ts";
import { keepAliveAgent, registryOrSkip } from "./services.ts";
import { fmt, summarize } from "./stats.ts";
import type { Row } from "./table.ts";

// The registry's defaults (docs/protocol.md#commands): the targets of
// docs/protocol.md#performance-targets are stated for them.
const intervalMs = 3_000;
const timeoutMs = 1_000;
const failures = 3;
const retryMs = 1_000;

/** A provider process of the failure benchmarks. */
export interface Provider {
  started: Listening;
  url: string;
  /** performance.now() of every heartbeat the provider reported. */
  beats: number[];
}

/**
 * Failure detection (docs/protocol.md#performance-targets) with the registry's default
 * health-check settings: kill -9 of provider processes at random moments of the check cycle →
 * the dependent's `Removed`; and SIGSTOPped (hung) providers → `Removed`, against interval +
 * failures × (timeout + 1 s), while the heartbeat gaps of healthy providers show whether
 * other checks were delayed.
 */
export async function benchFailure(context: BenchContext): Promise<Row[]> {
  const killWhat = "kill -9 of a provider → dependent receives Removed";
  const bound = intervalMs + failures * (timeoutMs + retryMs);
  const stopWhat = "hung (SIGSTOP) provider → Removed";
  const registry = await registryOrSkip(context, [
    [`${killWhat}, p50`, "≤ 100 ms"],
    [`${killWhat}, max`, "≤ 500 ms"],
    [stopWhat, `≤ ${fmt(bound)} ms`],
    ["hung provider: healthy providers' check gap", `≤ ${fmt(intervalMs)} ms`],
  ]);
  if (Array.isArray(registry)) return registry;
  const { quick, progress, signal } = context;
  const agent = keepAliveAgent(16);
  const dependent = await startDependent();
  const providers: Provider[] = [];
  try {
    await dependent.register(registry.url, ["X"], agent);
    const spawn = async (count: number) => {
      const batch = await Promise.all(Array.from({ length: count }, () =>
        startProvider(context, registry.url, dependent, agent)));
      providers.push(...batch);
      // A provider that has run a while has been checked at least once: wait for that.
      await Promise.all(batch.map((p) => firstBeat(p, 2 * intervalMs + 2_000)));
      return batch;
    };

    // kill -9 at random moments of the cycle, several providers at once.
    const kills: number[] = [];
    let lost = 0;
    const rounds = quick ? 1 : 2;
    const perRound = quick ? 5 : 10;
    for (let round = 0; round < rounds && !signal.aborted; round++) {
      const batch = await spawn(perRound);
      const results = await Promise.all(batch.map(async (p) => {
        await delay(Math.random() * intervalMs, undefined, { signal });
        const start = performance.now();
        p.started.child.kill("SIGKILL");
        try {
          return (await dependent.waitFor("Removed", "X", p.url, start, bound + 3_000)).at - start;
        } catch {
          lost++;
          return Number.POSITIVE_INFINITY;
        }
      }));
      kills.push(...results);
      progress(`failure: kill -9 round ${round + 1}: ${results.map((v) => fmt(v)).join(", ")} ms`);
    }
    const k = summarize(kills);

    // SIGSTOP: hung providers next to healthy ones.
    const hungCount = quick ? 1 : 3;
    const hung = await spawn(hungCount);
    const healthy = await spawn(3);
    const watchFrom = performance.now();
    const stops = await Promise.all(hung.map(async (p) => {
      await delay(Math.random() * intervalMs, undefined, { signal });
      const start = performance.now();
      p.started.child.kill("SIGSTOP");
      try {
        return (await dependent.waitFor("Removed", "X", p.url, start, bound + 5_000)).at - start;
      } catch {
        return Number.POSITIVE_INFINITY;
      } finally {
        p.started.child.kill("SIGKILL");
      }
    }));
    const watchTo = performance.now();
    let gap = 0;
    for (const p of healthy) {
      const beats = p.beats.filter((t) => t >= watchFrom - intervalMs && t <= watchTo);
      for (let i = 1; i < beats.length; i++) {
        gap = Math.max(gap, (beats[i] ?? 0) - (beats[i - 1] ?? 0));
      }
      if (beats.length < 2) gap = Number.POSITIVE_INFINITY;
    }
    const removedHealthy = await Promise.any(healthy.map((p) =>
      dependent.waitFor("Removed", "X", p.url, watchFrom, 1))).then(() => true, () => false);
    progress(`failure: SIGSTOP → Removed ${stops.map((v) => fmt(v)).join(", ")} ms; ` +
      `healthy max gap ${fmt(gap)} ms over ${fmt(watchTo - watchFrom)} ms`);
    const s = summarize(stops);
    const slack = 300;
    return [
      {
        what: `${killWhat}, p50`,
        value: `${fmt(k.p50, 1)} ms`,
        target: "≤ 100 ms",
        met: k.p50 <= 100,
        note: `${k.n} kills at random points of the ${fmt(intervalMs)} ms cycle` +
          (lost ? `, ${lost} not removed within ${fmt(bound + 3_000)} ms` : ""),
      },
      {
        what: `${killWhat}, max`,
        value: `${fmt(k.max, 1)} ms`,
        target: "≤ 500 ms",
        met: k.max <= 500,
        note: `min ${fmt(k.min, 1)} ms, mean ${fmt(k.mean, 1)} ms; ` +
          `${kills.filter((v) => v > 500).length} of ${k.n} over 500 ms`,
      },
      {
        what: stopWhat,
        value: `${fmt(s.max)} ms (max of ${s.n})`,
        target: `≤ ${fmt(bound)} ms`,
        met: s.max <= bound,
        note: `all: ${stops.map((v) => fmt(v)).join(", ")} ms; interval ${fmt(intervalMs)} + ` +
          `${failures} × (timeout ${fmt(timeoutMs)} + ${fmt(retryMs)}) ms`,
      },
      {
        what: "hung provider: healthy providers' largest check gap",
        value: `${fmt(gap)} ms`,
        target: `≤ ${fmt(intervalMs)} ms (+${slack} ms jitter)`,
        met: gap <= intervalMs + slack && !removedHealthy,
        note: removedHealthy ? "a healthy provider was Removed!" : "no healthy provider Removed",
      },
    ];
  } finally {
    for (const p of providers) p.started.child.kill("SIGKILL");
    await Promise.all(providers.map((p) => p.started.exited));
    await dependent.close();
    agent.destroy();
    await registry.stop();
  }
}

/**
 * Starts a provider process (`provider.ts`), registers it as an instance of "X" with
 * `registryURL` and resolves once `dependent` heard of it; its heartbeats are recorded.
 */
export async function startProvider(context: BenchContext, registryURL: string,
  dependent: Dependent, agent: http.Agent): Promise<Provider> {
  const started = await startNode(new URL("./provider.js", import.meta.url), [], {
    name: "provider",
    ipc: true,
    signal: context.signal,
  });
  const beats: number[] = [];
  started.child.on("message", () => {
    beats.push(performance.now());
    if (beats.length > 1_000) beats.shift();
  });
  const start = performance.now();
  await registerAt(registryURL, {
    ServiceName: "X",
    ServiceURL: started.url,
    RequiredServices: [],
    ServiceUpdateURL: "",
    HeartbeatURL: `${started.url}/heartbeat`,
  }, agent);
  await dependent.waitFor("Added", "X", started.url, start, 5_000);
  return { started, url: started.url, beats };
}

/** Waits (up to `withinMs`) until `provider` has been checked once. */
export async function firstBeat(provider: Provider, withinMs: number): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (provider.beats.length === 0 && performance.now() < deadline) await delay(50);
}
