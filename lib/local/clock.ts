/**
 * The local runtime's notion of time. Hourly drift windows and alarm periods cannot be waited for in a demo that
 * lasts a minute, so the platform runs on a clock that can be moved forward: the demo advances it hour by hour,
 * `local up` runs it faster than real time. Capture partitions, metric timestamps, alarm evaluation and schedules
 * all read this clock, so they agree with each other; real timers (deployment delays, polling) do not.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export interface LocalClockOptions {
  /** @default the real time at construction */
  readonly start?: Date;
  /**
   * Simulated milliseconds per real millisecond.
   * @default 1
   */
  readonly speed?: number;
}

export class LocalClock implements Clock {
  private readonly realStart = Date.now();
  private readonly start: number;
  private readonly speed: number;
  private offset = 0;

  constructor(options: LocalClockOptions = {}) {
    const speed = options.speed ?? 1;
    if (!Number.isFinite(speed) || speed <= 0) throw new Error(`LocalClock: speed must be > 0, got ${speed}`);
    this.speed = speed;
    this.start = (options.start ?? new Date()).getTime();
  }

  now(): Date {
    return new Date(this.start + (Date.now() - this.realStart) * this.speed + this.offset);
  }

  /** Moves simulated time forward (never backward: alarm periods and capture hours only go forward). */
  advance(milliseconds: number): void {
    if (!Number.isFinite(milliseconds) || milliseconds < 0)
      throw new Error(`LocalClock: can only advance by a non-negative duration, got ${milliseconds}`);
    this.offset += milliseconds;
  }
}
