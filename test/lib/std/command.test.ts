import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import {
  runCommand,
  type CommandSpec,
  type ExtraFlag,
  type Proc,
  type StopSignal,
} from "../../../lib/std/command.ts";

const spec = {
  command: "demo",
  description: "A demo service.",
  defaultPort: 4_000,
  extra: {
    file: { kind: "string", default: "x.log", value: "FILE", help: "the file" },
    mode: { kind: "string", default: "a", help: "the mode" },
    failures: { kind: "integer", default: 3, min: 1, help: "failures", env: "DEMO_FAILURES" },
  },
} satisfies CommandSpec<Record<string, ExtraFlag>>;

/** A process stand-in: what `runCommand` touches, recorded. */
function fakeProc(argv: string[], options: { tty?: boolean; env?: Record<string, string> } = {}) {
  const signals = new EventEmitter();
  const stdin = Object.assign(new EventEmitter(), { isTTY: options.tty ?? false, pause() {} });
  const out: string[] = [];
  const err: string[] = [];
  const proc = {
    argv: ["node", "main.js", ...argv],
    env: options.env ?? {},
    stdin: stdin as unknown as NodeJS.ReadStream,
    stdout: { write: (text: string) => out.push(text), on: () => undefined },
    stderr: { write: (text: string) => err.push(text), on: () => undefined },
    exitCode: undefined as Proc["exitCode"],
    once: (event: StopSignal, listener: () => void) => signals.once(event, listener),
  };
  return { proc, signals, stdin, out, err };
}

/** What `runCommand` makes of a command line: the flags `main` gets, the help, or the error. */
async function parse(
  args: string[],
  env: Record<string, string> = {},
  command: CommandSpec<Record<string, ExtraFlag>> = spec,
): Promise<{ flags: Record<string, unknown> } | { help: string } | { error: string }> {
  const { proc, out, err } = fakeProc(args, { env });
  let flags: Record<string, unknown> | undefined;
  await runCommand(proc, command, async (parsed) => {
    flags = parsed;
  });
  if (flags) return { flags };
  if (proc.exitCode === 2) return { error: err.join("") };
  assert.equal(proc.exitCode, undefined, `${args.join(" ")}: ${err.join("")}`);
  return { help: out.join("") };
}

/** The signal `runCommand` hands to `main`, for a `proc` that runs no further. */
async function stopSignal(
  proc: Proc,
  command: CommandSpec<Record<string, ExtraFlag>> = spec,
): Promise<AbortSignal> {
  let stop: AbortSignal | undefined;
  await runCommand(proc, command, async (_flags, signal) => {
    stop = signal;
  });
  assert.ok(stop, "main ran");
  return stop;
}

describe("runCommand: flags", () => {
  it("fills defaults, the environment and typed extras", async () => {
    const env = { REGISTRY_URL: "http://r:1", REGISTRY_TOKEN: "t", DEMO_FAILURES: "5" };
    const parsed = await parse(["--port", "0", "--file", "y.log"], env);
    assert.ok("flags" in parsed);
    assert.deepEqual(parsed.flags, {
      host: "localhost",
      port: 0,
      registry: "http://r:1",
      token: "t",
      file: "y.log",
      mode: "a",
      failures: 5,
    });
  });

  it("prefers flags over the environment and leaves the token unset when empty", async () => {
    const env = { REGISTRY_URL: "http://r:1", REGISTRY_TOKEN: "t" };
    const parsed = await parse(["--registry", "http://x:2", "--token", ""], env);
    assert.ok("flags" in parsed);
    assert.equal(parsed.flags.registry, "http://x:2");
    assert.equal(parsed.flags.token, undefined);
    assert.equal(parsed.flags.port, 4_000);
  });

  it("answers --help and -h with every flag, its placeholder and its default", async () => {
    for (const flag of ["--help", "-h"]) {
      const parsed = await parse([flag]);
      assert.ok("help" in parsed);
      const mentions = ["usage: demo", "--port PORT", "--registry URL", "--file FILE"];
      for (const text of [...mentions, "--mode TEXT", "--failures N", '"x.log"']) {
        assert.ok(parsed.help.includes(text), `help mentions ${text}`);
      }
      assert.ok(parsed.help.includes("env DEMO_FAILURES"));
      assert.match(parsed.help, /--port PORT +port to listen on, 0 = any free port/);
    }
    const launcher = await parse(["-h"], {}, { ...spec, portHelp: "the registry's port" });
    assert.ok("help" in launcher);
    assert.match(launcher.help, /--port PORT +the registry's port, 0 = any free port/);
  });

  const bad: Array<[string[], RegExp]> = [
    [["--nope"], /Unknown option '--nope'/],
    [["--port", "70000"], /--port: want an integer from 0 to 65535, got "70000"/],
    [["--port", "-1"], /'--port' argument is ambiguous: a value that starts with '-' goes after '=', --port=VALUE/],
    [["--port", "1.5"], /--port: want an integer/],
    [["--failures", "0"], /--failures: want an integer from 1/],
    [["--registry", "nope"], /--registry: not a URL/],
    [["--registry", "ftp://x"], /--registry: want an http or https URL/],
    [["--registry", "http://a:1,nope"], /--registry: not a URL: "nope"/],
    [["--host", ""], /--host: must not be empty/],
    [["stray"], /positional/],
  ];
  for (const [args, message] of bad) {
    it(`refuses ${args.join(" ")} with exit code 2`, async () => {
      const parsed = await parse(args);
      assert.ok("error" in parsed, "refused");
      // One line: what was wrong, and where to look.
      assert.match(parsed.error, /^demo: [^\n]+ \(see --help\)\n$/u);
      assert.match(parsed.error, message);
    });
  }

  it("refuses a flag together with one it excludes, given or through its env", async () => {
    const store = {
      ...spec,
      extra: {
        state: { kind: "string", default: "s.json", help: "file", excludes: "etcd" },
        etcd: { kind: "string", default: "", help: "etcd", env: "DEMO_ETCD" },
      },
    } satisfies CommandSpec<Record<string, ExtraFlag>>;
    const refused = { error: "demo: --state cannot be used with --etcd (see --help)\n" };
    assert.deepEqual(await parse(["--state", "a", "--etcd", "http://e:1"], {}, store), refused);
    assert.deepEqual(await parse(["--state", "a"], { DEMO_ETCD: "http://e:1" }, store), refused);
    const parsed = await parse(["--etcd", "http://e:1"], {}, store);
    assert.ok("flags" in parsed && parsed.flags.state === "s.json", "the default is no conflict");
  });

  it("has no --registry for the registry itself", async () => {
    const registry = { ...spec, registryFlag: false };
    const parsed = await parse(["--registry", "http://x:1"], {}, registry);
    assert.ok("error" in parsed && /Unknown option '--registry'/.test(parsed.error));
  });
});

describe("runCommand", () => {
  it("says what is wrong with an unknown flag once, on one line", async () => {
    const { proc, err } = fakeProc(["--nope"]);
    await runCommand(proc, spec, async () => assert.fail("main must not run"));
    assert.equal(proc.exitCode, 2);
    assert.deepEqual(err, ["demo: Unknown option '--nope' (see --help)\n"]);
  });

  it("prints one line and sets exit code 2 for a bad flag, without running main", async () => {
    const { proc, err } = fakeProc(["--port", "x"]);
    let ran = false;
    await runCommand(proc, spec, async () => {
      ran = true;
    });
    assert.equal(ran, false);
    assert.equal(proc.exitCode, 2);
    const line = 'demo: --port: want an integer from 0 to 65535, got "x" (see --help)\n';
    assert.deepEqual(err, [line]);
  });

  it("prints the help to stdout and exits 0", async () => {
    const { proc, out } = fakeProc(["--help"]);
    await runCommand(proc, spec, async () => assert.fail("main must not run"));
    assert.equal(proc.exitCode, undefined);
    assert.match(out.join(""), /^usage: demo \[flags\]/);
  });

  it("reports a failing main on one line with exit code 1", async () => {
    const { proc, err } = fakeProc([]);
    await runCommand(proc, spec, async () => {
      throw new Error("boom", { cause: new Error("disk gone") });
    });
    assert.equal(proc.exitCode, 1);
    assert.deepEqual(err, ["demo: boom: disk gone\n"]);
  });

  it("aborts main's signal on SIGTERM", async () => {
    const { proc, signals } = fakeProc([]);
    await runCommand(proc, spec, async (_flags, signal) => {
      assert.equal(signal.aborted, false);
      signals.emit("SIGTERM");
      assert.equal(signal.aborted, true);
    });
    assert.equal(proc.exitCode, undefined);
  });
});

describe("runCommand: stop signal", () => {
  for (const name of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    it(`stops on ${name}`, async () => {
      const { proc, signals } = fakeProc([]);
      const signal = await stopSignal(proc);
      signals.emit(name);
      assert.equal(signal.aborted, true);
    });
  }

  it("stops on Enter only when stdin is a terminal", async () => {
    const tty = fakeProc([], { tty: true });
    const interactive = await stopSignal(tty.proc);
    tty.stdin.emit("data", "\n");
    assert.equal(interactive.aborted, true);

    const piped = fakeProc([]);
    const background = await stopSignal(piped.proc);
    piped.stdin.emit("data", "\n");
    piped.stdin.emit("end");
    assert.equal(background.aborted, false, "EOF or input on a pipe does not stop a service");
    piped.signals.emit("SIGINT");
    assert.equal(background.aborted, true);
  });

  it("ignores Enter when told to (the launcher)", async () => {
    const { proc, stdin, signals } = fakeProc([], { tty: true });
    const signal = await stopSignal(proc, { ...spec, stopOnEnter: false });
    stdin.emit("data", "\n");
    assert.equal(signal.aborted, false);
    signals.emit("SIGHUP");
    assert.equal(signal.aborted, true);
  });

  it("stops at the end of stdin with STOP_ON_STDIN_EOF=1 (a launcher's child)", async () => {
    const { proc, stdin } = fakeProc([], { env: { STOP_ON_STDIN_EOF: "1" } });
    const signal = await stopSignal(proc);
    stdin.emit("data", "anything");
    assert.equal(signal.aborted, false, "input does not stop it");
    stdin.emit("end");
    assert.equal(signal.aborted, true);
  });
});
