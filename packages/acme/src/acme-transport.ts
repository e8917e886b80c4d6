import type * as acme from 'acme-client';
import { acmeLibrary } from './acme-library';
import { Agent } from 'node:https';
import { ICS_ERR, icsError, type IcsErrorCode } from '@ics-ts/wsocket';

/** The largest answer we read from a CA: a certificate chain is a few KB, a directory less. */
export const MAX_ACME_RESPONSE_BYTES = 256 * 1024;

export interface AcmeTransportOptions {
  directoryUrl: string;
  accountKey: string;
  accountUrl?: string;
  /** Trusted CAs for the directory (PEM); default Node's roots. */
  ca?: string;
  requestTimeoutMs: number;
  /** Aborts every request in flight (the manager stopping, or the order's deadline). */
  signal: AbortSignal;
}

type HttpAdapter = (config: unknown) => Promise<unknown>;
let httpAdapterLoaded: HttpAdapter | undefined;

/** The HTTP adapter of the axios acme-client was built with (resolved from acme-client's own folder), loaded with it. */
function httpAdapter(): HttpAdapter {
  if (!httpAdapterLoaded) {
    acmeLibrary();
    const axios = require(require.resolve('axios', { paths: [require.resolve('acme-client')] })) as { getAdapter(name: string): HttpAdapter };
    httpAdapterLoaded = axios.getAdapter('http');
  }
  return httpAdapterLoaded;
}

/**
 * A network error (refused, reset, timed out, aborted), kept as it was: acme-client 5.4's response
 * interceptor turns every request that got no response into "Cannot read properties of undefined
 * (reading 'config')" (it reads `response.config` with no response).
 */
export class AcmeNetworkError extends Error {
  override readonly name = 'AcmeNetworkError';
  /** The system code (ECONNREFUSED...) when there is one, else ICS_ERR_ACME_NETWORK. */
  readonly code: string;
  readonly icsCode: IcsErrorCode = ICS_ERR.ACME_NETWORK;
  constructor(url: string, cause: Error & { code?: string }) {
    super(`${url}: ${cause.code ? `${cause.code} ` : ''}${cause.message}`, { cause });
    this.code = cause.code ?? ICS_ERR.ACME_NETWORK;
  }
}

/** What acme-client's HttpClient.request takes: axios request options. */
type RequestOptions = Record<string, unknown>;
interface AcmeHttpClient {
  request(url: string, method: string, options?: RequestOptions): Promise<unknown>;
}

/**
 * An acme-client Client whose HTTP goes through its own agent, with a deadline, a size bound and
 * no retry of its own.
 *
 * acme-client sends every request through one axios instance shared by the whole process; a CA
 * bundle (`httpsAgent`) or retry settings set there would apply to every client in the process. So
 * each request of this client gets its options on the way in, through the one method every ACME
 * request (directory, nonce, signed request) passes: HttpClient.request. Its retries (5, 5 to 25 s
 * apart, on a refused connection or a 5xx, in timers nothing can cancel) are turned off through
 * the `retryAttempt` counter its interceptor reads: the manager has its own back-off, which stop()
 * cancels. A network error is reported as itself (AcmeNetworkError), not as the TypeError
 * acme-client's interceptor makes of it. The Pebble tests fail if a new acme-client release changes this path.
 */
export function createAcmeClient(options: AcmeTransportOptions): { client: acme.Client; close(): void } {
  const adapterFor = httpAdapter();
  const client = new (acmeLibrary().Client)({
    directoryUrl: options.directoryUrl,
    accountKey: options.accountKey,
    accountUrl: options.accountUrl,
  });
  const http = (client as unknown as { http?: AcmeHttpClient }).http;
  if (!http || typeof http.request !== 'function') {
    throw icsError(Error, ICS_ERR.ACME_CLIENT_UNSUPPORTED, 'acme-client: Client.http.request is missing; this acme-client version is not supported (5.4 is)');
  }
  const agent = new Agent({ ca: options.ca, keepAlive: true, maxSockets: 2 });
  const send = http.request;
  const transport: RequestOptions = {
    httpsAgent: agent,
    timeout: options.requestTimeoutMs,
    maxContentLength: MAX_ACME_RESPONSE_BYTES,
    maxBodyLength: MAX_ACME_RESPONSE_BYTES,
    maxRedirects: 0,
    proxy: false,
    signal: options.signal,
    retryAttempt: Number.POSITIVE_INFINITY,
  };
  http.request = async function requestWithTransport(this: AcmeHttpClient, url, method, requestOptions = {}) {
    let networkError: AcmeNetworkError | undefined;
    const adapter = (config: unknown): Promise<unknown> =>
      adapterFor(config).catch((err: Error & { response?: unknown }) => {
        // acme-client makes axios reject every response (validateStatus false) and sorts them out itself.
        if (!err.response) networkError = new AcmeNetworkError(url, err);
        throw err;
      });
    try {
      return await send.call(this, url, method, Object.assign(requestOptions, transport, { adapter }));
    } catch (err) {
      throw networkError ?? err;
    }
  };
  return { client, close: () => agent.destroy() };
}
