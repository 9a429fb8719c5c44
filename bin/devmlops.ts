import { main } from '../lib/cli/main';

// exitCode rather than process.exit(): stdout (e.g. a --json report piped to a file) is flushed first.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`devmlops: ${String(err)}\n`);
    process.exitCode = 2;
  },
);
