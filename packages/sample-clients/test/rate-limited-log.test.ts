import { LogClock, REAL_CLOCK, RateLimitedLog } from '../src/rate-limited-log';

/** A clock the test moves by hand; its timers fire when the time passes them. */
class ManualClock implements LogClock {
  time = 1_000_000;
  private timers: { at: number; callback: () => void }[] = [];

  now(): number {
    return this.time;
  }

  schedule(callback: () => void, ms: number): () => void {
    const timer = { at: this.time + ms, callback };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  get pending(): number {
    return this.timers.length;
  }

  advance(ms: number): void {
    this.time += ms;
    for (const timer of this.timers.filter((t) => t.at <= this.time)) {
      this.timers = this.timers.filter((t) => t !== timer);
      timer.callback();
    }
  }
}

function setup(burst = 3, intervalMs = 10_000) {
  const clock = new ManualClock();
  const lines: string[] = [];
  const log = new RateLimitedLog({ write: (line) => lines.push(line), burst, intervalMs, clock });
  return { clock, lines, log };
}

test('the first `burst` entries of an interval are written in full, the rest counted in one line at its end', () => {
  const { clock, lines, log } = setup();
  for (let i = 0; i < 100; i++) log.log(`stack ${i}\n    at somewhere`);
  expect(lines).toEqual(['stack 0\n    at somewhere', 'stack 1\n    at somewhere', 'stack 2\n    at somewhere']);
  expect(clock.pending).toBe(1); // one timer, not one per entry
  clock.advance(9_999);
  expect(lines).toHaveLength(3);
  clock.advance(1);
  expect(lines.slice(3)).toEqual(['97 more exceptions suppressed in the last 10s']);
  expect(log.totalSuppressed).toBe(97);
  expect(clock.pending).toBe(0);
});

test('a sustained flood: at most burst entries and one count per interval, and every entry accounted for', () => {
  const { clock, lines, log } = setup(2, 1_000);
  let logged = 0;
  for (let step = 0; step < 10_000; step++) {
    log.log(`e${step}`);
    logged++;
    clock.advance(3); // 333 entries per interval
  }
  log.close();
  const counts = lines.filter((line) => /suppressed/.test(line)).map((line) => Number(/^(\d+) more/.exec(line)![1]));
  const full = lines.filter((line) => line.startsWith('e'));
  const intervals = Math.ceil((10_000 * 3) / 1_000);
  expect(full.length).toBeLessThanOrEqual(2 * (intervals + 1));
  expect(counts.length).toBeLessThanOrEqual(intervals + 1);
  expect(full.length + counts.reduce((a, b) => a + b, 0)).toBe(logged);
  expect(log.totalSuppressed).toBe(logged - full.length);
});

test('quiet logs are written in full and make no timer; a new interval opens after a quiet one', () => {
  const { clock, lines, log } = setup(2);
  log.log('a');
  log.log('b');
  expect(clock.pending).toBe(0);
  clock.advance(10_000);
  log.log('c');
  log.log('d');
  log.log('e'); // third of this interval: counted
  expect(lines).toEqual(['a', 'b', 'c', 'd']);
  clock.advance(4_000);
  expect(lines).toHaveLength(4);
  clock.advance(6_000);
  expect(lines[4]).toBe('1 more exceptions suppressed in the last 10s');
});

test('an entry after the interval ended (timer not yet run) closes the old interval first', () => {
  const { clock, lines, log } = setup(1);
  log.log('a');
  log.log('b');
  clock.time += 20_000; // time passes without the timer running (a busy event loop)
  log.log('c');
  expect(lines).toEqual(['a', '1 more exceptions suppressed in the last 20s', 'c']);
  expect(clock.pending).toBe(0);
});

test('close() writes the pending count at once (the CLI calls it before exiting) and cancels the timer', () => {
  const { clock, lines, log } = setup(1);
  log.log('a');
  log.log('b');
  log.log('c');
  clock.advance(2_500);
  log.close();
  expect(lines).toEqual(['a', '2 more exceptions suppressed in the last 3s']);
  expect(clock.pending).toBe(0);
  log.close(); // nothing pending: nothing written
  expect(lines).toHaveLength(2);
});

test('options are checked, naming the value', () => {
  const write = () => {};
  expect(() => new RateLimitedLog({ write, burst: 0 })).toThrow('option burst must be an integer >= 1, got 0');
  expect(() => new RateLimitedLog({ write, intervalMs: Infinity })).toThrow('option intervalMs must be an integer number of ms in 1..2147483647, got Infinity');
  expect(() => new RateLimitedLog({ write, intervalMs: NaN })).toThrow(RangeError);
});

test('the real clock: the count arrives by itself once the interval is over (a 50 ms interval)', async () => {
  const lines: string[] = [];
  const done = new Promise<void>((resolve) => {
    const log = new RateLimitedLog({
      write: (line) => {
        lines.push(line);
        if (line.includes('suppressed')) resolve();
      },
      burst: 1,
      intervalMs: 50,
      clock: REAL_CLOCK,
    });
    log.log('first');
    log.log('second');
  });
  await done; // a wait on the event, not a sleep
  expect(lines).toEqual(['first', '1 more exceptions suppressed in the last 1s']);
});
