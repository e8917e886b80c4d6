import type * as acme from 'acme-client';
import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type * as tls from 'node:tls';
import { createDevCertificate } from '@ics-ts/ssl-context';
import { createAcmeClient } from './acme-transport';
import { PendingChallenges } from './challenges';
import { CertificateBundle, bundlePem, certificateRequest, checkBundle, keyTypeOf, newPrivateKey, splitBundlePem } from './keys';
import { AcmeCertOptions, ResolvedAcmeCertOptions, resolveAcmeCertOptions } from './options';
import { CertWorkDir, WORK_FILES } from './work-dir';
import { ICS_ERR, MAX_TIMER_MS, icsError } from '@ics-ts/wsocket';

/** A certificate in force: the bundle and the file a TSslContext loads it from. */
export interface IssuedCertificate extends CertificateBundle {
  /** `<workDir>/certificate.pem`: key, leaf and intermediates; give it to TSslContext as sslCert. */
  bundleFile: string;
}

export type AcmeCertSource = 'acme' | 'stand-in';
export type AcmeCertState = 'new' | 'waiting' | 'ordering' | 'stopped';

/** What a person (or `--check`) wants to know of a host's certificate. */
export interface AcmeCertStatus {
  names: string[];
  state: AcmeCertState;
  /** 'acme': issued by the CA; 'stand-in': self-signed, served until the first order succeeds. */
  source: AcmeCertSource | undefined;
  notAfter: Date | undefined;
  /** When the renewal starts (notAfter less renewDays); undefined for a stand-in. */
  renewAt: Date | undefined;
  /** When the next order runs (the renewal, or the retry after a failure). */
  nextOrderAt: Date | undefined;
  /** Failed orders since the last success. */
  failures: number;
  lastError: string | undefined;
}

export interface AcmeCertEvents {
  /** A new certificate from the CA, already written to bundleFile: reload the TSslContext that serves it. */
  certificate: [certificate: IssuedCertificate];
  /** An order failed; the last good certificate stays; the next order runs at retryAt. */
  orderFailed: [error: Error, retry: { failures: number; retryAt: Date }];
}

/** The order state kept in the work directory, so that a restart keeps the back-off. */
interface SavedState {
  failures: number;
  lastError?: string;
  nextOrderAt?: string;
}

/** The delay before retry number `failures` (1, 2, ...): retryMinMs doubled each time, at most retryMaxMs. */
export function retryDelay(failures: number, retryMinMs: number, retryMaxMs: number): number {
  return Math.min(retryMaxMs, retryMinMs * 2 ** Math.min(Math.max(failures - 1, 0), 40));
}

const DAY_MS = 86_400_000;
/** Days a stand-in certificate lasts: it is replaced at the first good order, and re-made at start. */
const STAND_IN_DAYS = 7;
const MAX_POLLS = 600;

/**
 * One host's certificate from an ACME CA (ICS SslCertAutoOrder): orders it when there is none (or
 * the names or key type changed), renews it renewDays before it expires, retries a failed order
 * with back-off while the last good certificate stays in use, and answers the CA's challenges
 * (`challengeContextFor` for tls-alpn-01, `http01Response` for http-01) while an order runs.
 * Everything lives in the work directory, so a restart carries on where it stopped.
 */
export class AcmeCertManager extends EventEmitter<AcmeCertEvents> {
  readonly options: Readonly<ResolvedAcmeCertOptions>;
  readonly workDir: CertWorkDir;
  private readonly challenges = new PendingChallenges();
  private current: IssuedCertificate | undefined;
  private state: AcmeCertState = 'new';
  private saved: SavedState = { failures: 0 };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<IssuedCertificate> | undefined;
  private abort: AbortController | undefined;
  private keyTypeChanged = false;

  /** `where` starts the messages of option errors (default 'AcmeCertManager'). */
  constructor(options: AcmeCertOptions, where?: string) {
    super();
    this.options = resolveAcmeCertOptions(options, where);
    this.workDir = new CertWorkDir(this.options.workDir);
  }

  /** The file a TSslContext serves: `new TSslContext({ sslCert: manager.bundleFile })`. */
  get bundleFile(): string {
    return this.workDir.path(WORK_FILES.bundle);
  }

  /** The certificate in force (the CA's, or the stand-in), once start() has resolved. */
  get certificate(): IssuedCertificate | undefined {
    return this.current;
  }

  get status(): AcmeCertStatus {
    const cert = this.current;
    const source: AcmeCertSource | undefined = cert ? (cert.standIn ? 'stand-in' : 'acme') : undefined;
    return {
      names: [...this.options.names],
      state: this.state,
      source,
      notAfter: cert?.notAfter,
      renewAt: source === 'acme' ? this.renewAt(cert!) : undefined,
      nextOrderAt: this.state === 'waiting' ? this.nextOrderAt() : this.state === 'ordering' ? new Date() : undefined,
      failures: this.saved.failures,
      lastError: this.saved.lastError,
    };
  }

  /** Challenges waiting for the CA's check (0 between orders): a server looks at ClientHellos only while > 0. */
  get pendingChallenges(): number {
    return this.challenges.size;
  }

  /** tls-alpn-01: the acmeIdentifier certificate for a connection offering ALPN acme-tls/1 with this name. */
  challengeContextFor(serverName: string): tls.SecureContext | undefined {
    return this.challenges.contextFor(serverName);
  }

  /** http-01: the body for `GET path` when path is `/.well-known/acme-challenge/<one of our tokens>`. */
  http01Response(path: string): string | undefined {
    return this.challenges.http01Response(path);
  }

  /**
   * Loads the work directory and makes sure bundleFile holds a certificate to serve (the stored one,
   * or a self-signed stand-in), then orders or renews in the background as needed. Resolves once
   * bundleFile is ready; the order does not hold it up.
   */
  async start(): Promise<AcmeCertStatus> {
    if (this.state !== 'new') throw icsError(Error, ICS_ERR.INVALID_STATE, `AcmeCertManager: start() called when ${this.state}`);
    this.state = 'waiting';
    await this.workDir.ensure();
    this.saved = await this.loadState();
    this.current = await this.loadStored();
    if (!this.current) {
      const standIn = await createDevCertificate({ names: this.options.names, days: STAND_IN_DAYS });
      this.current = await this.install(checkBundle(standIn.key, standIn.cert, this.options.names));
    }
    if (this.state === 'waiting') this.schedule();
    return this.status;
  }

  /** Orders now, whatever the expiry (a forced renewal); joins an order already running. */
  renewNow(): Promise<IssuedCertificate> {
    if (this.state === 'new' || this.state === 'stopped') {
      return Promise.reject(icsError(Error, ICS_ERR.INVALID_STATE, `AcmeCertManager: renewNow() needs start() first (state ${this.state})`));
    }
    return this.runOrder();
  }

  /** Cancels the timer and the order in flight (its requests are aborted); the files stay. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort?.abort(icsError(Error, ICS_ERR.ACME_STOPPED, 'AcmeCertManager stopped'));
    await this.running?.catch(() => undefined);
  }

  private renewAt(cert: CertificateBundle): Date {
    return new Date(cert.notAfter.getTime() - this.options.renewDays * DAY_MS);
  }

  /** When the next order is due: after a failure, the retry time; else at once for a stand-in, or at renewAt. */
  private nextOrderAt(): Date {
    const retry = this.saved.nextOrderAt ? new Date(this.saved.nextOrderAt) : undefined;
    if (retry && this.saved.failures > 0) return retry;
    const cert = this.current;
    if (!cert || cert.standIn || this.keyTypeChanged) return new Date();
    return this.renewAt(cert);
  }

  private schedule(): void {
    if (this.state !== 'waiting') return;
    if (this.timer) clearTimeout(this.timer);
    const wait = this.nextOrderAt().getTime() - Date.now();
    this.timer = setTimeout(onTimer, Math.max(0, Math.min(wait, MAX_TIMER_MS)), this);
    this.timer.unref();
  }

  /** @internal The timer fired: order if due, else wait on (a delay longer than a timer holds). */
  due(): void {
    this.timer = undefined;
    if (this.state !== 'waiting') return;
    if (this.nextOrderAt().getTime() > Date.now()) return this.schedule();
    this.runOrder().catch(() => undefined); // reported through orderFailed
  }

  private runOrder(): Promise<IssuedCertificate> {
    if (this.running) return this.running;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.state = 'ordering';
    const running = this.order().then(
      (issued) => this.succeeded(issued),
      (err: unknown) => this.failed(err),
    );
    this.running = running;
    running
      .finally(() => {
        if (this.running === running) this.running = undefined;
      })
      .catch(() => undefined);
    return running;
  }

  private async succeeded(issued: CertificateBundle): Promise<IssuedCertificate> {
    const installed = await this.install(issued);
    this.saved = { failures: 0 };
    this.keyTypeChanged = false;
    await this.saveState();
    if (this.state === 'ordering') this.state = 'waiting';
    this.running = undefined; // a renewNow() from a listener starts a new order, it does not join this one
    this.emit('certificate', installed);
    this.schedule();
    return installed;
  }

  private async failed(err: unknown): Promise<never> {
    const error = err instanceof Error ? err : icsError(Error, ICS_ERR.ACME_ORDER_FAILED, String(err));
    if (this.state === 'stopped') throw error;
    const failures = this.saved.failures + 1;
    const retryAt = new Date(Date.now() + retryDelay(failures, this.options.retryMinMs, this.options.retryMaxMs));
    this.saved = { failures, lastError: error.message, nextOrderAt: retryAt.toISOString() };
    await this.saveState().catch(() => undefined); // the back-off holds in memory even if the disk refuses
    this.state = 'waiting';
    this.running = undefined;
    this.emit('orderFailed', error, { failures, retryAt });
    this.schedule();
    throw error;
  }

  /** Writes the bundle atomically and makes it the certificate in force. */
  private async install(bundle: CertificateBundle): Promise<IssuedCertificate> {
    await this.workDir.write(WORK_FILES.bundle, bundlePem(bundle));
    this.current = { ...bundle, bundleFile: this.bundleFile };
    return this.current;
  }

  /** The stored certificate, if it still serves: our names, our key type, not expired. */
  private async loadStored(): Promise<IssuedCertificate | undefined> {
    const text = await this.workDir.read(WORK_FILES.bundle);
    const parts = text === undefined ? undefined : splitBundlePem(text);
    if (!parts) return undefined;
    try {
      const bundle = checkBundle(parts.keyPem, parts.chain, this.options.names);
      // Another key type is served until the certificate with the configured one arrives.
      this.keyTypeChanged = !bundle.standIn && keyTypeOf(bundle.keyPem) !== this.options.keyType;
      return { ...bundle, bundleFile: this.bundleFile };
    } catch {
      return undefined; // other names, expired, or damaged: order a new one
    }
  }

  private async loadState(): Promise<SavedState> {
    try {
      const parsed = JSON.parse((await this.workDir.read(WORK_FILES.state)) ?? '{}') as Partial<SavedState>;
      const failures = Number.isInteger(parsed.failures) && (parsed.failures as number) > 0 ? (parsed.failures as number) : 0;
      const next = typeof parsed.nextOrderAt === 'string' && !Number.isNaN(Date.parse(parsed.nextOrderAt)) ? parsed.nextOrderAt : undefined;
      return { failures, lastError: typeof parsed.lastError === 'string' ? parsed.lastError.slice(0, 2000) : undefined, nextOrderAt: next };
    } catch {
      return { failures: 0 };
    }
  }

  private saveState(): Promise<void> {
    return this.workDir.write(WORK_FILES.state, `${JSON.stringify({ names: this.options.names, ...this.saved }, null, 2)}\n`);
  }

  /** One order, start to end, within orderTimeoutMs; stop() aborts it. */
  private async order(): Promise<CertificateBundle> {
    const abort = new AbortController();
    this.abort = abort;
    const deadline = setTimeout(() => abort.abort(icsError(Error, ICS_ERR.ACME_ORDER_TIMEOUT, `the order took longer than orderTimeoutMs (${this.options.orderTimeoutMs} ms)`)), this.options.orderTimeoutMs);
    deadline.unref();
    const clients: { close(): void }[] = [];
    try {
      const { accountKey, accountUrl } = await this.savedAccount();
      const transport = { directoryUrl: this.options.directory, accountKey, ca: this.options.caBundle, requestTimeoutMs: this.options.requestTimeoutMs, signal: abort.signal };
      const identifiers = this.options.names.map((value) => ({ type: 'dns', value }));
      // A saved account is used as it is: no request to register it again.
      let made = createAcmeClient({ ...transport, accountUrl });
      clients.push(made);
      if (accountUrl === undefined) await this.register(made.client, accountUrl);
      let order: acme.Order;
      try {
        order = await made.client.createOrder({ identifiers });
      } catch (err) {
        if (accountUrl === undefined || abort.signal.aborted) throw err;
        // The CA does not know the saved account (a test CA restarted, an account deactivated): register again.
        made = createAcmeClient(transport);
        clients.push(made);
        await this.register(made.client, accountUrl);
        order = await made.client.createOrder({ identifiers });
      }
      return await this.orderWith(made.client, order, abort.signal);
    } catch (err) {
      throw abort.signal.aborted ? (abort.signal.reason as Error) : err;
    } finally {
      clearTimeout(deadline);
      this.challenges.clear();
      for (const client of clients) client.close();
      if (this.abort === abort) this.abort = undefined;
    }
  }

  /** The account key from the work directory (made once), and the account URL saved for this directory. */
  private async savedAccount(): Promise<{ accountKey: string; accountUrl: string | undefined }> {
    let accountKey = await this.workDir.read(WORK_FILES.accountKey);
    if (accountKey === undefined) {
      accountKey = await newPrivateKey('ecdsa-p256');
      await this.workDir.write(WORK_FILES.accountKey, accountKey);
    }
    try {
      const saved = JSON.parse((await this.workDir.read(WORK_FILES.account)) ?? '{}') as { directory?: unknown; url?: unknown };
      const accountUrl = saved.directory === this.options.directory && typeof saved.url === 'string' ? saved.url : undefined;
      return { accountKey, accountUrl };
    } catch {
      return { accountKey, accountUrl: undefined };
    }
  }

  /** newAccount (RFC 8555 7.3): a new account, or the one this key already has; its URL is saved. */
  private async register(client: acme.Client, savedUrl: string | undefined): Promise<void> {
    // Configuring certAutoOrder agrees to the CA's terms of service, as certbot's --agree-tos does.
    const contact = this.options.contact;
    try {
      await client.createAccount({ termsOfServiceAgreed: true, contact: contact.length > 0 ? contact : undefined });
    } catch (err) {
      // For a key the CA already knows, acme-client follows newAccount with an update of the contact; with no
      // contact that is an empty update, which a CA may refuse, while the account was found: carry on with it.
      if (accountUrlOf(client) === undefined) throw err;
    }
    const url = client.getAccountUrl();
    if (url !== savedUrl) await this.workDir.write(WORK_FILES.account, `${JSON.stringify({ directory: this.options.directory, url }, null, 2)}\n`);
  }

  private async orderWith(client: acme.Client, created: acme.Order, signal: AbortSignal): Promise<CertificateBundle> {
    const o = this.options;
    let order = created;
    const authorizations = await client.getAuthorizations(order);
    const accepted: acme.Authorization[] = [];
    let alpnKey: string | undefined;
    for (const authz of authorizations) {
      if (authz.status === 'valid') continue; // the CA still trusts an earlier validation
      if (authz.status !== 'pending') throw icsError(Error, ICS_ERR.ACME_ORDER_FAILED, `the authorization for ${authz.identifier.value} is ${authz.status}`);
      const challenge = authz.challenges.find((c) => c.type === o.challenge);
      if (!challenge) {
        throw icsError(Error, ICS_ERR.ACME_ORDER_FAILED, `the CA offers no ${o.challenge} challenge for ${authz.identifier.value} (it offers ${authz.challenges.map((c) => c.type).join(', ')})`);
      }
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
      if (o.challenge === 'http-01') {
        this.challenges.addHttp01((challenge as { token: string }).token, keyAuthorization);
      } else {
        alpnKey ??= await newPrivateKey('ecdsa-p256');
        await this.challenges.addTlsAlpn01(authz, keyAuthorization, alpnKey);
      }
      accepted.push(authz);
    }
    for (const authz of accepted) {
      await client.completeChallenge(authz.challenges.find((c) => c.type === o.challenge)!);
    }
    order = await poll(() => client.getOrder(order), (next) => next.status !== 'pending', signal);
    if (order.status !== 'ready') throw icsError(Error, ICS_ERR.ACME_ORDER_FAILED, await invalidReason(client, order));
    this.challenges.clear();

    const keyPem = await newPrivateKey(o.keyType);
    order = await client.finalizeOrder(order, await certificateRequest(o.names, keyPem));
    order = await poll(() => client.getOrder(order), (next) => next.status !== 'processing' && next.status !== 'ready', signal, order);
    if (order.status !== 'valid') throw icsError(Error, ICS_ERR.ACME_ORDER_FAILED, `the CA did not issue the certificate: the order is ${order.status}`);
    const chain = await client.getCertificate(order);
    return checkBundle(keyPem, chain, o.names);
  }
}

function accountUrlOf(client: acme.Client): string | undefined {
  try {
    return client.getAccountUrl();
  } catch {
    return undefined;
  }
}

function onTimer(manager: AcmeCertManager): void {
  manager.due();
}

/** Asks again (200 ms, doubling to 5 s) until settled; the order's deadline or stop() ends it. */
async function poll<T>(fetch: () => Promise<T>, settled: (value: T) => boolean, signal: AbortSignal, first?: T): Promise<T> {
  let value = first ?? (await fetch());
  let wait = 200;
  for (let polls = 0; !settled(value); polls++) {
    if (polls >= MAX_POLLS) throw icsError(Error, ICS_ERR.ACME_ORDER_FAILED, `the CA left the order unsettled after ${MAX_POLLS} polls`);
    await delay(wait, undefined, { signal });
    wait = Math.min(wait * 2, 5000);
    value = await fetch();
  }
  return value;
}

/** Why an order became invalid: the first failed challenge's problem, as the CA words it. */
async function invalidReason(client: acme.Client, order: acme.Order): Promise<string> {
  const authorizations = await client.getAuthorizations(order).catch(() => []);
  for (const authz of authorizations) {
    for (const challenge of authz.challenges) {
      const problem = (challenge as { error?: { type?: string; detail?: string } }).error;
      if (problem) return `the CA refused ${challenge.type} for ${authz.identifier.value}: ${problem.detail ?? problem.type ?? 'no detail'}`;
    }
  }
  return `the order is ${order.status}`;
}
