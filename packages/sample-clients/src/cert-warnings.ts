import type { TSslContext } from '@ics-ts/ssl-context';
import type { TWSocketServer } from '@ics-ts/wsocket-server';

const DAY_MS = 86_400_000;
/** ICS CertExpireDays, TSslContext's default for expireWarnDays. */
const DEFAULT_EXPIRE_WARN_DAYS = 30;

/**
 * What a person must hear of the certificates a server serves: expired, not
 * yet valid, or expiring within the context's `expireWarnDays` (30). Worked
 * out from each certificate's dates at `now`, not from the warnings its
 * context made when it loaded it, which grow stale while the server runs.
 *
 * Each TLS identity is named by where it comes from in the config: `sslContext`,
 * `multiListenSockets[1].sslContext`, `icsHosts[0] (chat)`; one used in
 * several places is reported once. Disabled hosts are left out.
 */
export function certificateWarnings(server: TWSocketServer, now = Date.now()): string[] {
  const contexts = new Map<TSslContext, string>();
  for (const listener of server.listenSockets) {
    const { sslEnable, sslContext, index } = listener.spec;
    if (sslEnable && sslContext && !contexts.has(sslContext)) {
      contexts.set(sslContext, index < 0 ? 'sslContext' : `multiListenSockets[${index}].sslContext`);
    }
  }
  for (const host of server.icsHosts) {
    if (host.hostEnabled && host.sslContext && !contexts.has(host.sslContext)) {
      contexts.set(host.sslContext, `icsHosts[${host.index}] (${host.hostTag})`);
    }
  }
  const warnings: string[] = [];
  for (const [context, where] of contexts) {
    const problem = certificateProblem(context, now);
    if (problem) warnings.push(`${where}: certificate ${certificateName(context)} ${problem}`);
  }
  return warnings;
}

function certificateProblem(context: TSslContext, now: number): string | undefined {
  const { notBefore, notAfter } = context.facts;
  const until = notAfter.getTime() - now;
  if (until < 0) {
    return `expired on ${notAfter.toISOString()} (${days(-until)} ago): clients refuse it`;
  }
  if (notBefore.getTime() > now) {
    return `is not valid before ${notBefore.toISOString()}: clients refuse it until then`;
  }
  const warnDays = context.options.expireWarnDays ?? DEFAULT_EXPIRE_WARN_DAYS;
  if (until < warnDays * DAY_MS) return `expires on ${notAfter.toISOString()} (in ${days(until)}): renew it`;
  return undefined;
}

function certificateName(context: TSslContext): string {
  const { commonName, names } = context.facts;
  return `CN=${commonName}${names.length > 0 ? ` [${names.join(', ')}]` : ''}`;
}

function days(ms: number): string {
  const whole = Math.floor(ms / DAY_MS);
  if (whole >= 1) return `${whole} day${whole === 1 ? '' : 's'}`;
  const hours = Math.floor(ms / 3_600_000);
  return hours >= 1 ? `${hours} hour${hours === 1 ? '' : 's'}` : 'less than an hour';
}
