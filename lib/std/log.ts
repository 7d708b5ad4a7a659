/** Records one log line. A Logger never throws into its caller and never blocks it. */
export type Logger = (message: string) => void;

/** Formats `date` in local time as Go's `log.LstdFlags` does: `2026/11/25 14:40:27`. */
export function goTimestamp(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}/${pad(date.getMonth() + 1)}/${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/**
 * A Logger that writes `2026/11/25 14:40:27 [name] message` lines to a stream (stderr by
 * default), the way Go's default logger prints.
 */
export function streamLogger(
  name: string,
  stream: { write(text: string): unknown } = process.stderr,
  now: () => Date = () => new Date(),
): Logger {
  return (message) => {
    stream.write(`${goTimestamp(now())} [${name}] ${message}\n`);
  };
}
