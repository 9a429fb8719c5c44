import * as fs from 'node:fs';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { isGzip } from '../../lambdas/core/gzip';
import { CliError } from './errors';

const READ_CHUNK_BYTES = 1024 * 1024;

/** An input file opened for streaming: its decoded bytes, and the raw stream for progress and clean-up. */
export interface InputFile {
  /** The file's bytes, gunzipped when the name or the magic bytes say gzip. */
  readonly source: AsyncIterable<Uint8Array>;
  /** The raw read stream: `bytesRead` for progress; destroy it to stop early. */
  readonly input: fs.ReadStream;
  readonly gzip: boolean;
  readonly size: number;
}

/** Opens a CLI input file; every failure is a CliError that names the file. */
export async function openInput(file: string): Promise<InputFile> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, 'r');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let size: number;
  let gzip: boolean;
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new CliError(`${file} is not a file`);
    size = stat.size;
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    gzip = isGzip(file, head.subarray(0, bytesRead));
  } catch (err) {
    await handle.close();
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const input = handle.createReadStream({ start: 0, highWaterMark: READ_CHUNK_BYTES });
  if (!gzip) return { source: input, input, gzip, size };
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  // Errors of either stream surface in the caller's loop, through the gunzip iterator.
  pipeline(input, gunzip, () => undefined);
  return { source: gunzip, input, gzip, size };
}
