import { execFile } from "node:child_process";
import type { TestContext } from "node:test";

/**
 * Runs Prometheus's own `promtool check metrics` on `text`; resolves with what it printed.
 * Without promtool the test is skipped locally (with the install command) and fails in CI.
 */
export async function promtool(t: TestContext, text: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const child = execFile("promtool", ["check", "metrics"], (error, stdout, stderr) => {
      const missing = (error as NodeJS.ErrnoException | null)?.code === "ENOENT";
      if (missing && process.env["CI"] !== "true") {
        t.skip("promtool is missing: apt-get install -y prometheus");
        resolve(undefined);
      } else if (error && missing) {
        reject(new Error("promtool is missing in CI: .ci/run must install prometheus"));
      } else {
        resolve(`${stdout}${stderr}`);
      }
    });
    child.stdin?.end(text);
  });
}
