import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';

/**
 * Runs a bench script in a child process under tsx and returns the JSON on its last stdout line: each run gets a
 * process of its own, so that the peak RSS it reports is its own.
 */
export function runChild<T>(args: string[]): Promise<T> {
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', tsx, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      // The SDK's Node 20 end-of-support notice would only clutter the figures.
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => {
      if (code !== 0) reject(new Error(`${args.join(' ')} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as T);
    });
  });
}
