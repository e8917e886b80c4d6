/**
 * The example of docs/hosts.md "Automatic certificates", read from the page at test time, compiled
 * and run against Pebble (validation on): the example can never drift from what works.
 */
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import * as sslContextPackage from '@ics-ts/ssl-context';
import { describeWithPrograms } from '../../../test-support/outside-program';
import * as acmePackage from '../src';
import { freePorts, serveContext, startPebble, startTestDns, tempDir, verifiedPeer } from './pebble';

const PAGE = path.resolve(__dirname, '../../../docs/hosts.md');

function exampleSource(): string {
  const match = /## Automatic certificates \(ACME\)[\s\S]*?```ts\n([\s\S]*?)```/.exec(readFileSync(PAGE, 'utf8'));
  if (!match) throw new Error('docs/hosts.md: the "Automatic certificates" example is missing');
  return match[1];
}

describeWithPrograms({ pebble: 'pebble' }, 'docs/hosts.md ACME example', (programs) => {
  test('orders a certificate for example.com and www.example.com over http-01 and reloads the context', async () => {
    const dir = tempDir();
    const dns = await startTestDns(['example.com', 'www.example.com']);
    const [httpPort, tlsPort] = await freePorts(2);
    const pebble = await startPebble(programs.pebble, dir, { tlsPort, httpPort, dnsPort: dns.port });
    const managers: acmePackage.AcmeCertManager[] = [];
    const responders: acmePackage.Http01Responder[] = [];
    const errors: string[] = [];
    try {
      let source = exampleSource();
      source = source
        .replace("'https://acme-v02.api.letsencrypt.org/directory'", `${JSON.stringify(pebble.directory)}, caBundle: ${JSON.stringify(pebble.caBundle)}`)
        .replace("'/var/lib/ics-ts/acme/example.com'", JSON.stringify(path.join(dir, 'work')))
        .replace("listen(80, '0.0.0.0')", `listen(${httpPort}, '127.0.0.1')`);
      const js = ts.transpileModule(`${source}\nscope.done = main();`, {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      // The example's classes, recorded so the test can find and stop what it made.
      class RecordedManager extends acmePackage.AcmeCertManager {
        constructor(...args: ConstructorParameters<typeof acmePackage.AcmeCertManager>) {
          super(...args);
          managers.push(this);
        }
      }
      class RecordedResponder extends acmePackage.Http01Responder {
        constructor(...args: ConstructorParameters<typeof acmePackage.Http01Responder>) {
          super(...args);
          responders.push(this);
        }
      }
      let served: sslContextPackage.TSslContext | undefined;
      const requireFor = (name: string): unknown => {
        if (name === '@ics-ts/acme') return { ...acmePackage, AcmeCertManager: RecordedManager, Http01Responder: RecordedResponder };
        if (name === '@ics-ts/ssl-context') return sslContextPackage;
        throw new Error(`the example imports ${name}`);
      };
      const scope = { done: undefined as Promise<void> | undefined, serveTls: (context: sslContextPackage.TSslContext) => (served = context) };
      new Function('require', 'exports', 'console', 'scope', `with (scope) { ${js} }`)(requireFor, {}, { error: (m: string) => errors.push(m) }, scope);
      await scope.done;
      expect(served).toBeDefined();
      expect(served!.facts.selfSigned).toBe(true); // the stand-in, until the CA answers
      const [issued] = (await new Promise((resolve) => managers[0].once('certificate', (...args) => resolve(args)))) as [acmePackage.IssuedCertificate];
      // The example's own 'certificate' listener ran first: the context already serves the CA's certificate.
      expect(served!.facts.fingerprint256).toBe(issued.fingerprint256);
      const server = await serveContext(served!);
      try {
        const peer = await verifiedPeer(server.port, 'www.example.com', await pebble.root());
        expect(peer.fingerprint256).toBe(issued.fingerprint256);
      } finally {
        await server.close();
      }
      expect(errors).toEqual([]);
      expect(responders[0].counters.answered).toBeGreaterThanOrEqual(2);
    } finally {
      await Promise.all(managers.map((m) => m.stop()));
      await Promise.all(responders.map((r) => r.close()));
      await pebble.stop();
      await dns.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
