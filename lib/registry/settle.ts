import type { Patch, PatchEntry, Registration } from "./registration.ts";

/** What `settleInitial` works with. */
export interface SettleContext {
  /** Brings the table up to date; resolves with why it could not (then it gives up). */
  sync(): Promise<string | undefined>;
  /** The passing providers of what the registration requires, as the table holds them now. */
  providers(): PatchEntry[];
  /** Sends a patch to the registrant; settles once it is out for good. */
  send(patch: Patch): Promise<void>;
  /** True once the replica stops. */
  stopped(): boolean;
}

const keyOf = (entry: PatchEntry) => `${entry.Name}\n${entry.URL}`;

/**
 * Makes good a race of a registry cluster (README "Running a registry cluster"): the initial
 * patch of a registration comes from the replica that took it, every later patch from the
 * leader, so a change the leader announced while the initial patch was on its way can arrive
 * first and be undone by it. Once the initial patch is out, this looks again (up to three
 * rounds, while changes keep coming) and sends the difference between what the registrant was
 * told and what holds now. Resolves when nothing differs, etcd cannot be read, or it stops.
 */
export async function settleInitial(
  reg: Registration,
  sent: Patch,
  context: SettleContext,
): Promise<void> {
  if (reg.ServiceUpdateURL === "" || reg.RequiredServices.length === 0) return;
  let told = new Map(sent.Added.map((entry) => [keyOf(entry), entry]));
  for (let round = 0; round < 3 && !context.stopped(); round++) {
    if ((await context.sync()) !== undefined) return;
    const holds = new Map(context.providers().map((entry) => [keyOf(entry), entry]));
    const patch: Patch = {
      Added: [...holds].filter(([key]) => !told.has(key)).map(([, entry]) => entry),
      Removed: [...told].filter(([key]) => !holds.has(key)).map(([, entry]) => entry),
    };
    if (patch.Added.length + patch.Removed.length === 0) return;
    await context.send(patch);
    told = holds;
  }
}
