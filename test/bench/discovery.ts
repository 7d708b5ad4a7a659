import type { BenchContext } from "./context.ts";
import { deregisterAt, startDependent, timeAdded } from "./dependent.ts";
import { keepAliveAgent, registryOrSkip } from "./services.ts";
import { fmt, summarize } from "./stats.ts";
import type { Row } from "./table.ts";

const deadlineMs = 2_000;

/**
 * docs/protocol.md#performance-targets discovery latency: a registry process and an in-process
 * dependent requiring "X"; each trial registers a new X instance and times the dependent's `Added`,
 * then DELETEs it (what a gracefully stopping service does) and times `Removed`.
 */
export async function benchDiscovery(context: BenchContext): Promise<Row[]> {
  const addedWhat = "registration → dependent receives Added";
  const removedWhat = "graceful stop (DELETE) → dependent receives Removed, p50";
  const { quick, progress, signal } = context;
  const registry = await registryOrSkip(context, [
    [`${addedWhat}, p50`, "≤ 5 ms"],
    [`${addedWhat}, p99`, "≤ 20 ms"],
    [removedWhat, "≤ 20 ms"],
  ]);
  if (Array.isArray(registry)) return registry;
  const agent = keepAliveAgent(8);
  const dependent = await startDependent();
  try {
    await dependent.register(registry.url, ["X"], agent);
    const rounds = quick ? 1 : 3;
    const trials = 100;
    const added: number[] = [];
    const removed: number[] = [];
    const answered: number[] = [];
    const roundP50: number[] = [];
    let missing = 0;
    // Round 0 is a warm-up (JIT, connection pools); it is not recorded.
    for (let round = 0; round <= rounds && !signal.aborted; round++) {
      const count = round === 0 ? 20 : trials;
      const roundAdded: number[] = [];
      for (let i = 0; i < count && !signal.aborted; i++) {
        const url = `${dependent.url}/x/${round}-${i}`;
        const { addedMs, answerMs: answer } = await timeAdded(registry.url, dependent, url, agent,
          deadlineMs, `${dependent.url}/heartbeat`);
        const stop = performance.now();
        const removal = dependent.waitFor("Removed", "X", url, stop, deadlineMs).then(
          (a) => a.at - stop, () => Number.POSITIVE_INFINITY);
        await deregisterAt(registry.url, url, agent);
        const removedMs = await removal;
        if (round === 0) continue;
        if (!Number.isFinite(addedMs) || !Number.isFinite(removedMs)) missing++;
        added.push(addedMs);
        roundAdded.push(addedMs);
        removed.push(removedMs);
        answered.push(answer);
      }
      if (round > 0) {
        const s = summarize(roundAdded);
        roundP50.push(s.p50);
        progress(`discovery: round ${round}: Added p50 ${fmt(s.p50, 2)} ms, ` +
          `p99 ${fmt(s.p99, 2)} ms`);
      }
    }
    const a = summarize(added);
    const r = summarize(removed);
    const post = summarize(answered);
    const note = `${a.n} trials in ${rounds} rounds` +
      (missing ? `, ${missing} never arrived within ${deadlineMs} ms` : "");
    return [
      {
        what: `${addedWhat}, p50`,
        value: `${fmt(a.p50, 2)} ms`,
        target: "≤ 5 ms",
        met: a.p50 <= 5,
        note: `${note}; round p50s ${roundP50.map((v) => fmt(v, 2)).join(", ")} ms; ` +
          `POST /services answered in p50 ${fmt(post.p50, 2)} ms`,
      },
      {
        what: `${addedWhat}, p99`,
        value: `${fmt(a.p99, 2)} ms`,
        target: "≤ 20 ms",
        met: a.p99 <= 20,
        note: `max ${fmt(a.max, 2)} ms`,
      },
      {
        what: removedWhat,
        value: `${fmt(r.p50, 2)} ms`,
        target: "≤ 20 ms",
        met: r.p50 <= 20,
        note: `p99 ${fmt(r.p99, 2)} ms, max ${fmt(r.max, 2)} ms, ${r.n} trials`,
      },
    ];
  } finally {
    await dependent.close();
    agent.destroy();
    await registry.stop();
  }
}
