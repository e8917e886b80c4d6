import { RESTART_WINDOW_MS, RestartPolicy } from '../src/restart-policy';

test('the back-off doubles per consecutive death of a slot, up to its ceiling', () => {
  const policy = new RestartPolicy(2, 100, 1000, 10000, 100);
  const delays = [0, 1, 2, 3, 4, 5].map((i) => policy.decide(0, 5, i * 10));
  expect(delays).toEqual([100, 200, 400, 800, 1000, 1000].map((delay) => ({ restart: true, delay })));
  // another slot has its own count
  expect(policy.decide(1, 5, 100)).toEqual({ restart: true, delay: 100 });
});

test('a worker that lived stableAfter ms starts its slot back at restartDelay', () => {
  const policy = new RestartPolicy(1, 100, 10000, 5000, 100);
  policy.decide(0, 10, 0);
  policy.decide(0, 10, 1);
  expect(policy.decide(0, 10, 2)).toEqual({ restart: true, delay: 400 });
  expect(policy.decide(0, 5000, 3)).toEqual({ restart: true, delay: 100 });
});

test('more than maxRestartsPerMinute restarts within a minute, across slots: give up; a minute later it may restart again', () => {
  const policy = new RestartPolicy(3, 10, 10, 1000, 3);
  expect([0, 1, 2].map((slot) => policy.decide(slot, 1, slot).restart)).toEqual([true, true, true]);
  expect(policy.decide(0, 1, 100)).toEqual({ restart: false, restartsInWindow: 3 });
  expect(policy.decide(0, 1, RESTART_WINDOW_MS + 1).restart).toBe(true);
});

test('maxRestartsPerMinute 0: the first unexpected death gives up', () => {
  expect(new RestartPolicy(1, 10, 10, 1000, 0).decide(0, 1, 0)).toEqual({ restart: false, restartsInWindow: 0 });
});
