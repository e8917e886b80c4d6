/**
 * The manager's life without a CA that answers: the stand-in, what it does with a stored
 * certificate at start, back-off, the order deadline and stop(). The orders that succeed are in
 * pebble.test.ts.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createDevCA, createDevCertificate, TSslContext } from '@ics-ts/ssl-context';
import { AcmeCertManager, AcmeCertOptions, WORK_FILES, retryDelay } from '../src';
import { freePort, tempDir } from './pebble';

const NAMES = ['svc.example.com', 'www.svc.example.com'];
const DAY_MS = 86_400_000;

let dir: string;
const managers: AcmeCertManager[] = [];

beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
  fs.rmSync(dir, { recursive: true, force: true });
});

function manager(directory: string, extra: Partial<AcmeCertOptions> = {}): AcmeCertManager {
  const m = new AcmeCertManager({ directory, names: NAMES, workDir: path.join(dir, 'work'), retryMinMs: 3_600_000, ...extra });
  managers.push(m);
  return m;
}

/** A directory URL where nothing listens: every order fails at once with ECONNREFUSED. */
async function deadDirectory(): Promise<string> {
  return `https://127.0.0.1:${await freePort()}/dir`;
}

/** A certificate "from a CA" (not self-signed) for the names, stored in the work directory as an order would. */
async function storeIssued(days: number, names = NAMES): Promise<string> {
  const ca = await createDevCA('test issuing CA');
  const leaf = await createDevCertificate({ names, ca, days });
  const work = path.join(dir, 'work');
  fs.mkdirSync(work, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(work, WORK_FILES.bundle), `${leaf.key}${leaf.cert}`, { mode: 0o600 });
  return leaf.cert;
}

describe('retryDelay', () => {
  test('doubles from retryMinMs at each failure, up to retryMaxMs', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelay(n, 60_000, 600_000))).toEqual([60_000, 120_000, 240_000, 480_000, 600_000, 600_000]);
    expect(retryDelay(10_000, 1, 2_147_483_647)).toBe(2_147_483_647);
  });
});

describe('AcmeCertManager without a CA', () => {
  test('no certificate: a self-signed stand-in at once, the order fails and is reported, retried with back-off', async () => {
    const m = manager(await deadDirectory(), { retryMinMs: 20, retryMaxMs: 40 });
    const failures: { failures: number; error: string; delay: number }[] = [];
    const third = new Promise<void>((resolve) => {
      m.on('orderFailed', (error, retry) => {
        failures.push({ failures: retry.failures, error: error.message, delay: retry.retryAt.getTime() - Date.now() });
        if (failures.length === 3) resolve();
      });
    });
    const status = await m.start();
    expect(status).toMatchObject({ source: 'stand-in', names: NAMES });
    // The stand-in is served by a TSslContext straight away.
    const context = new TSslContext({ sslCert: m.bundleFile });
    expect(context.facts.names).toEqual(NAMES);
    expect(context.facts.selfSigned).toBe(true);
    await third;
    expect(failures.map((f) => f.failures)).toEqual([1, 2, 3]);
    for (const f of failures) expect(f.error).toMatch(/ECONNREFUSED/);
    // Each retry is planned no later than its back-off: 20, 40, then the 40 ms cap.
    expect(failures.map((f) => f.delay <= [20, 40, 40][f.failures - 1])).toEqual([true, true, true]);
    expect(m.status).toMatchObject({ source: 'stand-in', lastError: failures[2].error });
    expect(m.status.failures).toBeGreaterThanOrEqual(3);
  });

  test('the work directory is 0700, its files 0600, and no temporary file is left', async () => {
    const m = manager(await deadDirectory());
    const failed = once(m, 'orderFailed');
    await m.start();
    await failed;
    const work = path.join(dir, 'work');
    expect(fs.statSync(work).mode & 0o777).toBe(0o700);
    const files = fs.readdirSync(work).sort();
    expect(files).toEqual([WORK_FILES.accountKey, WORK_FILES.bundle, WORK_FILES.state].sort());
    for (const file of files) expect(fs.statSync(path.join(work, file)).mode & 0o777).toBe(0o600);
  });

  test('a work directory that others can read is narrowed to 0700', async () => {
    const work = path.join(dir, 'work');
    fs.mkdirSync(work, { mode: 0o755 });
    fs.chmodSync(work, 0o755);
    const m = manager(await deadDirectory());
    await m.start();
    expect(fs.statSync(work).mode & 0o777).toBe(0o700);
  });

  test('a restart keeps the back-off: the failures and the next order time come from the work directory', async () => {
    const directory = await deadDirectory();
    const first = manager(directory);
    const failed = once(first, 'orderFailed') as Promise<[Error, { failures: number; retryAt: Date }]>;
    await first.start();
    const [, retry] = await failed;
    await first.stop();
    const second = manager(directory);
    const status = await second.start();
    expect(status).toMatchObject({ state: 'waiting', failures: 1, source: 'stand-in' });
    expect(status.nextOrderAt).toEqual(retry.retryAt);
    expect(status.lastError).toMatch(/ECONNREFUSED/);
  });

  test('a stored certificate with more than renewDays left is served and renewed at notAfter - renewDays', async () => {
    await storeIssued(90);
    const m = manager(await deadDirectory(), { renewDays: 30 });
    const status = await m.start();
    expect(status).toMatchObject({ source: 'acme', state: 'waiting', failures: 0 });
    expect(status.renewAt!.getTime()).toBe(status.notAfter!.getTime() - 30 * DAY_MS);
    expect(status.nextOrderAt).toEqual(status.renewAt);
  });

  test('a stored certificate within renewDays is renewed at start, and kept while the order fails', async () => {
    const cert = await storeIssued(10);
    const m = manager(await deadDirectory(), { renewDays: 30 });
    const failed = once(m, 'orderFailed');
    const status = await m.start();
    expect(status.source).toBe('acme');
    await failed;
    expect(m.certificate?.fingerprint256).toBe(new X509Certificate(cert).fingerprint256);
    expect(fs.readFileSync(m.bundleFile, 'latin1')).toContain(cert.trim());
  });

  test('a stored certificate for other names is replaced by a stand-in and a new order', async () => {
    await storeIssued(90, ['other.example.com']);
    const m = manager(await deadDirectory());
    const failed = once(m, 'orderFailed');
    expect((await m.start()).source).toBe('stand-in');
    await failed;
  });

  test('a stored certificate of another key type is served until the new one comes, and ordered at once', async () => {
    await storeIssued(90);
    const m = manager(await deadDirectory(), { keyType: 'rsa-2048' });
    const failed = once(m, 'orderFailed');
    expect((await m.start()).source).toBe('acme');
    await failed;
  });

  test('a damaged bundle file is not served: a stand-in replaces it', async () => {
    const work = path.join(dir, 'work');
    fs.mkdirSync(work, { mode: 0o700 });
    fs.writeFileSync(path.join(work, WORK_FILES.bundle), '-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n');
    const m = manager(await deadDirectory());
    expect((await m.start()).source).toBe('stand-in');
  });

  test('a CA that accepts and never answers: the order ends at orderTimeoutMs', async () => {
    const silent = net.createServer((socket) => socket.on('error', () => undefined));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const m = manager(`https://127.0.0.1:${(silent.address() as net.AddressInfo).port}/dir`, { orderTimeoutMs: 200 });
      const failed = once(m, 'orderFailed') as Promise<[Error]>;
      await m.start();
      const [error] = await failed;
      expect(error.message).toBe('the order took longer than orderTimeoutMs (200 ms)');
    } finally {
      silent.close();
    }
  });

  test('stop() aborts the order in flight: no failure is reported, no retry planned', async () => {
    const silent = net.createServer((socket) => socket.on('error', () => undefined));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const connected = once(silent, 'connection');
    try {
      const m = manager(`https://127.0.0.1:${(silent.address() as net.AddressInfo).port}/dir`);
      let reported = 0;
      m.on('orderFailed', () => reported++);
      await m.start();
      await connected; // the order is waiting on the CA
      const renewal = m.renewNow();
      await m.stop();
      await expect(renewal).rejects.toThrow('AcmeCertManager stopped');
      expect(reported).toBe(0);
      expect(m.status).toMatchObject({ state: 'stopped', nextOrderAt: undefined });
      await expect(m.renewNow()).rejects.toThrow(/needs start\(\) first \(state stopped\)/);
    } finally {
      silent.close();
    }
  });
});
