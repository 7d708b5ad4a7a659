// How much CPU time and memory processes use, from Linux's /proc (benchmarks report them).
import { readFile } from "node:fs/promises";

/** CPU time (user + system) a process has used so far, in milliseconds; 0 if it is gone. */
export async function cpuMs(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    // USER_HZ is 100 on every Linux build Node supports.
    return ticks * 10;
  } catch {
    return 0;
  }
}

/** Busy CPU time of the whole machine so far (all cores, idle and iowait excluded), ms. */
export async function machineCpuMs(): Promise<number> {
  try {
    const stat = await readFile("/proc/stat", "utf8");
    const fields = (stat.split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …: busy = all but idle and iowait.
    const busy = fields.slice(0, 8).reduce((sum, value, index) =>
      index === 3 || index === 4 ? sum : sum + value, 0);
    return busy * 10;
  } catch {
    return 0;
  }
}

/** Resident memory of a process (VmRSS) and its peak (VmHWM) in MiB; NaN if unreadable. */
export async function memoryMiB(pid: number): Promise<{ rss: number; peak: number }> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => {
      const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
      return match?.[1] ? Number(match[1]) / 1024 : Number.NaN;
    };
    return { rss: field("VmRSS"), peak: field("VmHWM") };
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
}
