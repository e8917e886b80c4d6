import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createDevCA, createDevCertificate } from '@ics-ts/ssl-context';
import { CliIO, startCli } from '../src/cli';

/** --check: the config checked and the host table reported (certificate source, expiry, next renewal), nothing opened. */

function io(cwd: string): CliIO & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { out: (line) => lines.push(line), err: (line) => errors.push(line), cwd, lines, errors };
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-check-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeConfig(config: object): string {
  const file = path.join(dir, 'server.json');
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

test('reports each host: a file certificate, and a certAutoOrder host with its stored certificate and next renewal', async () => {
  const ca = await createDevCA('issuing CA');
  const stored = await createDevCertificate({ names: ['shop.example.com'], ca, days: 90 });
  fs.mkdirSync(path.join(dir, 'shop'), { mode: 0o700 });
  fs.writeFileSync(path.join(dir, 'shop', 'certificate.pem'), stored.key + stored.cert, { mode: 0o600 });
  const notAfter = new Date(new X509Certificate(stored.cert).validTo);
  const renewAt = new Date(notAfter.getTime() - 20 * 86_400_000).toISOString();
  const config = writeConfig({
    clientClass: 'echo',
    icsHosts: [
      { hostTag: 'files', hostNames: ['files.example.com'], bindIpAddr: '127.0.0.1', bindSslPort: 4443, devCertificate: ['files.example.com'] },
      {
        hostTag: 'shop',
        hostNames: ['shop.example.com'],
        bindIpAddr: '127.0.0.1',
        bindSslPort: 4443,
        certAutoOrder: { directory: 'https://acme.example/dir', workDir: path.join(dir, 'shop'), renewDays: 20 },
      },
      {
        hostTag: 'new',
        hostNames: ['new.example.com'],
        bindIpAddr: '127.0.0.1',
        bindSslPort: 4443,
        certAutoOrder: { directory: 'https://acme.example/dir', workDir: path.join(dir, 'new') },
      },
    ],
  });
  const out = io(dir);
  expect(await startCli(['--config', config, '--check'], out)).toEqual({ exitCode: 0 });
  expect(out.errors).toEqual([]);
  const text = out.lines.join('\n');
  expect(text).toContain('#1 shop - 127.0.0.1:4443 (TLS): shop.example.com');
  expect(text).toContain(`certificate: shop.example.com, expires ${notAfter.toISOString().slice(0, 10)}`);
  expect(text).toContain(`certAutoOrder: source acme, next order ${renewAt}`);
  expect(text).toContain('certAutoOrder: source none, next order at listen');
  expect(text).not.toMatch(/listening/);
  // Nothing was ordered or written: the new host's work directory does not exist.
  expect(fs.existsSync(path.join(dir, 'new'))).toBe(false);
});

test('a bad certAutoOrder ends with 2, naming the host and the key', async () => {
  const config = writeConfig({
    icsHosts: [{ hostTag: 'shop', hostNames: ['shop.example.com'], bindSslPort: 4443, certAutoOrder: { directory: 'https://acme.example/dir', workDir: dir, renewDays: 400 } }],
  });
  const out = io(dir);
  expect(await startCli(['--config', config, '--check'], out)).toEqual({ exitCode: 2 });
  expect(out.errors[0]).toMatch(/icsHosts\[0\] \(shop\): certAutoOrder: option renewDays must be an integer from 1 to 365, got 400/);
});
