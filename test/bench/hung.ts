import http from "node:http";
import type { AddressInfo } from "node:net";
import type { BenchContext } from "./context.ts";
import { deregisterAt, registerAt, startDependent, timeAdded } from "./dependent.ts";
import { eachLimit, keepAliveAgent, registryOrSkip } from "./services.ts";
import { fmt, summarize } from "./stats.ts";
import type { Row } from "./table.ts";

const deadlineMs = 10_000;

/**
 * Patch isolation (README, Discovery): N dependents whose ServiceUpdateURL accepts every
 * connection and never answers, all requiring "X", beside one healthy dependent requiring "X".
 * Each trial registers an X instance — a patch for every dependent — and times the healthy
 * one's `Added`, then deregisters it. A shared pool of connections would be filled by the hung
 * ones and the healthy dependent would wait for their timeouts.
 */
export async function benchHung(context: BenchContext): Promise<Row[]> {
  const { quick, progress, signal } = context;
  const hungCount = quick ? 1_000 : 5_000;
  const what = `registration → Added at a healthy dependent beside ${fmt(hungCount)} hung ones`;
  const registry = await registryOrSkip(context, [[`${what}, p50`, "≤ 5 ms"]]);
  if (Array.isArray(registry)) return registry;
  let held = 0;
  const hung = http.createServer(() => {
    held += 1; // accepted, read, never answered
  });
  await new Promise<void>((resolve) => hung.listen(0, "127.0.0.1", resolve));
  const hungURL = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
  const agent = keepAliveAgent(32);
  const dependent = await startDependent();
  try {
    const started = performance.now();
    await eachLimit(Array.from({ length: hungCount }, (_, i) => i), 32, (i) =>
      registerAt(registry.url, {
        ServiceName: "Hung",
        ServiceURL: `${hungURL}/d${i}`,
        RequiredServices: ["X"],
        ServiceUpdateURL: `${hungURL}/d${i}/services`,
        HeartbeatURL: "",
      }, agent), signal);
    progress(`hung: ${fmt(hungCount)} hung dependents registered in ` +
      `${fmt(performance.now() - started)} ms`);
    await dependent.register(registry.url, ["X"], agent);
    const added: number[] = [];
    let missing = 0;
    const trials = quick ? 30 : 100;
    // The first 10 are a warm-up, and fill the hung server with a POST from every dependent.
    for (let i = 0; i < trials + 10 && !signal.aborted; i++) {
      const url = `${dependent.url}/x/${i}`;
      const { addedMs: ms } = await timeAdded(registry.url, dependent, url, agent, deadlineMs);
      await deregisterAt(registry.url, url, agent);
      if (i < 10) continue;
      if (!Number.isFinite(ms)) missing++;
      added.push(ms);
    }
    const s = summarize(added);
    progress(`hung: Added p50 ${fmt(s.p50, 2)} ms, p99 ${fmt(s.p99, 2)} ms; ` +
      `${fmt(held)} patch POSTs held by the hung server`);
    return [{
      what: `${what}, p50`,
      value: `${fmt(s.p50, 2)} ms`,
      target: "≤ 5 ms",
      met: s.p50 <= 5,
      note: `p99 ${fmt(s.p99, 2)} ms, max ${fmt(s.max, 2)} ms, ${s.n} trials; ` +
        `${fmt(held)} POSTs held unanswered` +
        (missing ? `; ${missing} never arrived within ${deadlineMs} ms` : ""),
    }];
  } finally {
    await dependent.close();
    agent.destroy();
    await registry.stop();
    hung.closeAllConnections();
    hung.close();
  }
}
