import { execFile } from 'node:child_process';
import * as path from 'node:path';

/** The repository root, and the CLI as a user runs it (`bin/devmlops.js`). */
export const ROOT = path.resolve(__dirname, '..', '..');
export const BIN = path.join(ROOT, 'bin', 'devmlops.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `devmlops <args>` as a child process and resolves with its exit code and output, whatever the code. */
export function runCli(
  args: readonly string[],
  options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        if (typeof code !== 'number') return reject(err);
        resolve({ code, stdout, stderr });
      },
    );
  });
}
