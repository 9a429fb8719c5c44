import type { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { POINTER_KEY, pointerJson } from '../../lambdas/core/pointer';
import { DeployedModelCache, type DeployedModel } from '../../lambdas/shared/deployed-model';
import { BUCKET, pointer, spec1, spec2 } from '../helpers/inference';

/**
 * An S3 that answers GetObject from `objects` (ETag = a version counter, 304 on a matching If-None-Match), and
 * holds every answer while `held` is set, until release() — what a slow S3 looks like to the cache.
 */
function fakeS3() {
  const objects = new Map<string, { body: string; etag: string }>();
  let version = 0;
  const gets: string[] = [];
  let held: Array<() => void> | undefined;
  const state = { failing: false };
  const answer = (command: GetObjectCommand) => {
    const { Key, IfNoneMatch } = command.input;
    if (state.failing)
      throw Object.assign(new Error('We encountered an internal error'), { name: 'InternalError' });
    const o = objects.get(Key!);
    if (!o) throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
    if (IfNoneMatch === o.etag)
      throw Object.assign(new Error('Not Modified'), { name: '304', $metadata: { httpStatusCode: 304 } });
    return { ETag: o.etag, Body: { transformToString: () => Promise.resolve(o.body) } };
  };
  const s3 = {
    send: async (command: GetObjectCommand) => {
      gets.push(command.input.Key!);
      if (held) await new Promise<void>((r) => held!.push(r));
      return answer(command);
    },
  } as unknown as S3Client;
  return {
    s3,
    gets,
    state,
    deploy(n: 1 | 2) {
      const execution = `exec-${n}`;
      objects.set(`training/${execution}/feature-spec.json`, {
        body: JSON.stringify(n === 1 ? spec1 : spec2),
        etag: `"${++version}"`,
      });
      objects.set(POINTER_KEY, { body: pointerJson(pointer(n, execution)), etag: `"${++version}"` });
    },
    hold() {
      held = [];
    },
    release() {
      const waiting = held ?? [];
      held = undefined;
      for (const r of waiting) r();
    },
  };
}

/** Lets every settled promise's callbacks run. */
const settle = () => new Promise((r) => setImmediate(r));

/** Settles until `done` holds, ten turns at most (the assertions after it say what was expected). */
async function settleUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 10 && !done(); i++) await settle();
}

describe('DeployedModelCache', () => {
  function setup(refreshSeconds: number) {
    const s3 = fakeS3();
    const clock = { now: 1_000_000 };
    const switches: Array<[string | undefined, string]> = [];
    const stale: unknown[] = [];
    const cache = new DeployedModelCache({
      s3: s3.s3,
      bucket: BUCKET,
      refreshSeconds,
      now: () => clock.now,
      onSwitch: (from, to) => switches.push([from?.modelVersion, to.modelVersion]),
      onStaleError: (e) => stale.push(e),
    });
    return { s3, clock, cache, switches, stale };
  }
  const version = (m: DeployedModel | undefined) => m?.modelVersion;

  it('a due check runs in the background: calls get the cached model at once, and the new one once it ends', async () => {
    const { s3, clock, cache, switches } = setup(10);
    s3.deploy(1);
    expect(version(await cache.current())).toBe('1');
    expect(s3.gets).toEqual([POINTER_KEY, 'training/exec-1/feature-spec.json']);

    s3.deploy(2);
    clock.now += 9_999;
    expect(version(await cache.current())).toBe('1');
    expect(s3.gets).toHaveLength(2);

    // Due, and S3 does not answer: neither this call nor those after it wait, and they share one check.
    clock.now += 1;
    s3.hold();
    expect(version(await cache.current())).toBe('1');
    expect(version(await cache.current())).toBe('1');
    await settle();
    expect(s3.gets).toEqual([POINTER_KEY, 'training/exec-1/feature-spec.json', POINTER_KEY]);

    s3.release();
    await settleUntil(() => s3.gets.length >= 4);
    s3.release();
    await settleUntil(() => switches.length >= 2);
    expect(switches).toEqual([
      [undefined, '1'],
      ['1', '2'],
    ]);
    const now = await cache.current();
    expect(version(now)).toBe('2');
    expect(now?.spec).toEqual(spec2);
    expect(s3.gets.slice(3)).toEqual(['training/exec-2/feature-spec.json']);
  });

  it('without a model every call waits for its check, so the first deploy serves at once', async () => {
    const { s3, cache } = setup(10);
    expect(await cache.current()).toBeUndefined();
    s3.deploy(1);
    s3.hold();
    let answered = false;
    const pending = cache.current().then((m) => {
      answered = true;
      return m;
    });
    await settle();
    expect(answered).toBe(false);
    s3.release();
    await settle();
    s3.release();
    expect(version(await pending)).toBe('1');
  });

  it('refreshSeconds 0 checks before every call is served', async () => {
    const { s3, cache } = setup(0);
    s3.deploy(1);
    expect(version(await cache.current())).toBe('1');
    s3.deploy(2);
    expect(version(await cache.current())).toBe('2');
    expect(s3.gets).toEqual([
      POINTER_KEY,
      'training/exec-1/feature-spec.json',
      POINTER_KEY,
      'training/exec-2/feature-spec.json',
    ]);
  });

  it('a background check that fails is reported, the cached model serves, and the next period checks again', async () => {
    const { s3, clock, cache, stale } = setup(10);
    s3.deploy(1);
    await cache.current();
    s3.state.failing = true;
    clock.now += 10_000;
    expect(version(await cache.current())).toBe('1');
    await settle();
    expect(stale).toHaveLength(1);
    expect((stale[0] as Error).message).toContain('We encountered an internal error');
    expect(version(await cache.current())).toBe('1');
    expect(s3.gets).toHaveLength(3);

    s3.state.failing = false;
    s3.deploy(2);
    clock.now += 10_000;
    await cache.current();
    await settleUntil(() => s3.gets.length >= 5);
    await settle();
    expect(version(await cache.current())).toBe('2');
  });

  it('an onSwitch that throws in a background check is reported as a failed check', async () => {
    const s3 = fakeS3();
    const clock = { now: 0 };
    const stale: unknown[] = [];
    let calls = 0;
    const cache = new DeployedModelCache({
      s3: s3.s3,
      bucket: BUCKET,
      refreshSeconds: 10,
      now: () => clock.now,
      onSwitch: () => {
        if (++calls > 1) throw new Error('logger broke');
      },
      onStaleError: (e) => stale.push(e),
    });
    s3.deploy(1);
    await cache.current();
    s3.deploy(2);
    clock.now += 10_000;
    expect(version(await cache.current())).toBe('1');
    await settleUntil(() => stale.length > 0);
    expect((stale[0] as Error).message).toBe('logger broke');
  });
});
