#!/usr/bin/env node
// RedisBus figures against a local redis-server, each beside its raw ioredis baseline in the same run:
// reserveSlot round trip (two live nodes summed) vs PING, claim and entries(), publish -> subscriber throughput
// vs raw PUBLISH/SUBSCRIBE. Needs the build (pnpm build) and redis-server on the PATH.
//   node packages/redis-bus/bench/bus-bench.js [--rounds N] [--messages N]
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const net = require('node:net');
const { performance } = require('node:perf_hooks');
const { Redis } = require('ioredis');
const { RedisBus } = require('../dist/index.js');

const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const ROUNDS = arg('rounds', 5000);
const MESSAGES = arg('messages', 100000);

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('redis-server not ready in 10 s')), 10000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

/** Sequential round trips of `call`: median and p99 in microseconds, and calls per second. */
async function roundTrips(call, rounds) {
  for (let i = 0; i < Math.min(500, rounds); i++) await call(i); // warm-up
  const times = new Float64Array(rounds);
  const started = performance.now();
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await call(i);
    times[i] = performance.now() - t;
  }
  const total = performance.now() - started;
  times.sort();
  return { medianUs: Math.round(times[rounds >> 1] * 1000), p99Us: Math.round(times[Math.floor(rounds * 0.99)] * 1000), perSecond: Math.round(rounds / (total / 1000)) };
}

/** `count` messages sent by `send` as fast as it goes; resolves with messages per second once `received()` reaches count. */
async function throughput(send, received, count) {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    send(i);
    if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
  }
  const deadline = Date.now() + 60000;
  while (received() < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  const seconds = (performance.now() - started) / 1000;
  return { messages: received(), perSecond: Math.round(received() / seconds) };
}

async function main() {
  const redis = await startRedis();
  const results = { node: process.versions.node, redis: execFileSync('redis-server', ['--version']).toString().trim().split(' ')[2], rounds: ROUNDS, messages: MESSAGES };
  try {
    // raw ioredis baselines
    const raw = new Redis(redis.url);
    const rawSub = new Redis(redis.url);
    results.pingRoundTrip = await roundTrips(() => raw.ping(), ROUNDS);
    let rawGot = 0;
    rawSub.on('messageBuffer', () => rawGot++);
    await rawSub.subscribe('raw');
    const payload = 'x'.repeat(100);
    results.rawPublish = await throughput(() => raw.publish('raw', payload), () => rawGot, MESSAGES);
    raw.disconnect();
    rawSub.disconnect();

    const a = new RedisBus({ url: redis.url, service: 'bench', nodeId: 'a' });
    const b = new RedisBus({ url: redis.url, service: 'bench', nodeId: 'b' });
    await Promise.all([a.start(), b.start()]);
    await b.reserveSlot('10.9.9.9', 0, 0);
    results.reserveSlotNoLimit = await roundTrips((i) => a.reserveSlot(`10.0.${(i >> 8) & 255}.${i & 255}`, 0, 0), ROUNDS);
    results.reserveSlotTwoNodes = await roundTrips((i) => a.reserveSlot(`10.1.${(i >> 8) & 255}.${i & 255}`, 1e9, 1e6), ROUNDS);
    results.reserveRelease = await roundTrips(async (i) => {
      const key = `10.2.0.${i & 255}`;
      await a.reserveSlot(key, 1e9, 1e6);
      a.releaseSlot(key);
    }, ROUNDS);
    results.clientCount = await roundTrips(() => a.clientCount(), ROUNDS);
    results.claim = await roundTrips((i) => a.claim('bench', `user${i}`, 'v'), ROUNDS);
    results.entriesOf = (await b.entries('bench')).length;
    results.entries = await roundTrips(() => b.entries('bench'), 50);
    let got = 0;
    b.subscribe('bench', () => got++);
    await new Promise((resolve) => setTimeout(resolve, 100));
    results.busPublish = await throughput(() => a.publish('bench', payload), () => got, MESSAGES);
    results.busReceivedDropped = b.stats().receivedDropped;
    results.busPublishDropped = a.stats().publishDropped;
    await Promise.all([a.stop(), b.stop()]);
  } finally {
    redis.stop();
  }
  console.log(JSON.stringify(results, null, 2));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
