/**
 * Human-readable progress on stderr: named steps with their timings. stdout stays free for machine output
 * (`--json`), as DESIGN.md section 9 asks.
 */
export interface Progress {
  /** A line of text. */
  info(message: string): void;
  /** Runs `fn` as a named step, printing its start and its duration (or its failure). */
  step<T>(name: string, fn: () => Promise<T> | T, detail?: (result: T) => string): Promise<T>;
  /** A live counter for a long step; redrawn in place on a terminal, silent otherwise. */
  ticker(name: string): Ticker;
}

export interface Ticker {
  update(text: string): void;
  done(): void;
}

export function formatSeconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

/** MB/s in decimal megabytes, the unit the benchmark figures use. */
export function formatRate(bytes: number, ms: number): string {
  return ms <= 0 ? 'n/a' : `${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`;
}

export function createProgress(
  stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
  options: { quiet?: boolean } = {},
): Progress {
  const quiet = options.quiet ?? false;
  const write = (s: string): void => {
    if (!quiet) stream.write(s);
  };
  return {
    info: (message) => write(`${message}\n`),
    async step(name, fn, detail) {
      write(`> ${name}\n`);
      const t0 = performance.now();
      try {
        const result = await fn();
        const extra = detail ? `: ${detail(result)}` : '';
        write(`  done ${name} in ${formatSeconds(performance.now() - t0)}${extra}\n`);
        return result;
      } catch (err) {
        write(`  FAILED ${name} after ${formatSeconds(performance.now() - t0)}\n`);
        throw err;
      }
    },
    ticker(name) {
      const live = !quiet && stream.isTTY === true;
      let last = 0;
      let shown = false;
      return {
        update(text) {
          if (!live) return;
          const now = performance.now();
          // A redraw per chunk would cost more than the work it reports on.
          if (now - last < 200) return;
          last = now;
          shown = true;
          stream.write(`\r  ${name}: ${text}\x1b[K`);
        },
        done() {
          if (shown) stream.write('\r\x1b[K');
        },
      };
    },
  };
}
