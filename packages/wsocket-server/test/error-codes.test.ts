import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IdentityError, TSslContext, createDevCertificate } from '@ics-ts/ssl-context';
import { ICS_ERR, ProxyHeaderDecoder, TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';
import type { HandshakeFailure } from '../src/tls/handshake';
import { EchoClient, Peer, newServer, once, startServer, track } from './helpers';
import { TlsPeer } from './tls-peer';
import { freePorts } from './fixtures/ics-hosts-support';

type Coded = Error & { code?: string; icsCode?: string };

/** What `fn` throws, to check its class, code and message together. */
function thrown(fn: () => unknown): Coded {
  try {
    fn();
  } catch (error) {
    return error as Coded;
  }
  throw new Error('expected a throw'); // the call under test did not throw
}

function rejected(promise: Promise<unknown>): Promise<Coded> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as Coded,
  );
}

describe('errors through the public API carry their catalog code (class and message unchanged)', () => {
  test('option errors: RangeError OPTION_OUT_OF_RANGE, TypeError INVALID_OPTION, UNKNOWN_OPTION', () => {
    const range = thrown(() => new TWSocketServer({ port: 70000 }));
    expect(range).toBeInstanceOf(RangeError);
    expect(range.code).toBe(ICS_ERR.OPTION_OUT_OF_RANGE);
    expect(range.message).toContain('70000');

    const type = thrown(() => new TWSocketServer({ banner: 5 as unknown as string }));
    expect(type).toBeInstanceOf(TypeError);
    expect(type.code).toBe(ICS_ERR.INVALID_OPTION);

    const unknown = thrown(() => new TWSocketServer({ multiListenSockets: [{ addr: '127.0.0.1', port: 0, prot: 1 } as never] }));
    expect(unknown).toBeInstanceOf(TypeError);
    expect(unknown.code).toBe(ICS_ERR.UNKNOWN_OPTION);
    expect(unknown.message).toContain('prot');

    const ssl = thrown(() => new TSslContext({ sslCert: 'x.pem', sslCertFile: 'x.pem' } as never));
    expect(ssl).toBeInstanceOf(TypeError);
    expect(ssl.code).toBe(ICS_ERR.UNKNOWN_OPTION);
  });

  test('a client class that is not a TWSocketClient: INVALID_CLIENT_CLASS; unresolvable parameters: NO_INJECTION_METADATA', () => {
    class NotAClient {}
    const wrong = thrown(() => new TWSocketServer({ clientClass: NotAClient as never }));
    expect(wrong).toBeInstanceOf(TypeError);
    expect(wrong.code).toBe(ICS_ERR.INVALID_CLIENT_CLASS);

    const unnamed = thrown(() => new TWSocketServer({ clientClass: 'no-such-class-registered' }));
    expect(unnamed.code).toBe(ICS_ERR.INVALID_CLIENT_CLASS);

    class NeedsAThing extends TWSocketClient {
      constructor(readonly thing: { name: string }) {
        super();
      }
    }
    const injection = thrown(() => new TWSocketServer({ clientClass: NeedsAThing }));
    expect(injection).toBeInstanceOf(TypeError);
    expect(injection.code).toBe(ICS_ERR.NO_INJECTION_METADATA);
  });

  test('listen on a port in use: code EADDRINUSE (the Node convention), icsCode LISTEN_FAILED', async () => {
    const first = await startServer();
    const second = newServer({ port: first.bindPort });
    const error = await rejected(second.listen());
    expect(error.code).toBe('EADDRINUSE');
    expect(error.icsCode).toBe(ICS_ERR.LISTEN_FAILED);
  });

  test('listen twice: ALREADY_LISTENING; a listen aborted while under way: AbortError, ABORT_ERR, icsCode LISTEN_ABORTED', async () => {
    const server = await startServer();
    const again = await rejected(server.listen());
    expect(again.code).toBe(ICS_ERR.ALREADY_LISTENING);

    const controller = new AbortController();
    const listening = newServer().listen({ signal: controller.signal });
    controller.abort(); // while the listen is under way
    const aborted = await rejected(listening);
    expect(aborted.name).toBe('AbortError');
    expect(aborted.code).toBe('ABORT_ERR');
    expect(aborted.icsCode).toBe(ICS_ERR.LISTEN_ABORTED);
  });

  test('TLS handshakes: a silent peer times out (ERR_TLS_HANDSHAKE_TIMEOUT, icsCode TLS_HANDSHAKE_TIMEOUT), an unknown name is refused (TLS_SERVER_NAME)', async () => {
    const [tlsPort] = await freePorts('127.0.0.1', 1);
    const www = await createDevCertificate({ names: ['localhost'], days: 40 });
    const server = track(
      new TWSocketServer<TWSocketClient>({
        sniUnknown: 'refuse',
        sslHandshakeTimeout: 300,
        clientClass: EchoClient,
        icsHosts: [{ hostTag: 'www', hostNames: ['localhost'], bindIpAddr: '127.0.0.1', bindSslPort: tlsPort, sslCert: www.cert, sslKey: www.key }],
      }),
    );
    await server.listen();
    const failures: HandshakeFailure[] = [];
    server.on('sslHandshakeError', (failure) => failures.push(failure));

    const silent = await Peer.connect(tlsPort); // says nothing: the handshake deadline ends it
    await silent.closed;
    const unknown = await TlsPeer.attempt(tlsPort, { servername: 'other.example' });
    expect(unknown.secure).toBe(false);
    while (failures.length < 2) await once(server, 'sslHandshakeError');

    const byReason = Object.fromEntries(failures.map((f) => [f.reason, [(f.error as Coded).code, (f.error as Coded).icsCode]]));
    // The timeout keeps Node's own code (tls.Server's), the catalog code is in icsCode.
    expect(byReason).toEqual({ timeout: ['ERR_TLS_HANDSHAKE_TIMEOUT', ICS_ERR.TLS_HANDSHAKE_TIMEOUT], sni: [ICS_ERR.TLS_SERVER_NAME, undefined] });
    expect(failures.find((f) => f.reason === 'timeout')!.error.message).toBe('TLS handshake timed out');
  });

  test('a certificate that cannot be loaded: IdentityError CERTIFICATE, also through the server option', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ics-errors-'));
    try {
      const bad = path.join(dir, 'not-a-cert.pem');
      writeFileSync(bad, 'this is no certificate\n');
      const direct = thrown(() => new TSslContext({ sslCert: bad, sslKey: bad }));
      expect(direct).toBeInstanceOf(IdentityError);
      expect(direct.code).toBe(ICS_ERR.CERTIFICATE);

      const viaServer = thrown(() => new TWSocketServer({ sslEnable: true, sslContext: { sslCert: bad, sslKey: bad } }));
      expect(viaServer.code).toBe(ICS_ERR.CERTIFICATE);
      expect(viaServer.message).toContain('not-a-cert.pem');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the PROXY header decoder used after it finished: PROXY_DECODER_FINISHED', () => {
    const decoder = new ProxyHeaderDecoder('v1');
    decoder.push(Buffer.from('PROXY TCP4 10.0.0.1 10.0.0.2 1234 80\r\n'));
    const error = thrown(() => decoder.push(Buffer.from('more')));
    expect(error.code).toBe(ICS_ERR.PROXY_DECODER_FINISHED);
  });
});
