import type { ProxyHeader, ProxyProtocolMode, ProxyRefusal } from './proxy-header';
import { PROXY_V1_MAX_BYTES, PROXY_V2_MAX_BYTES } from './proxy-header';
import { parseProxyV1, V1_SIGNATURE } from './proxy-v1';
import { parseProxyV2, V2_FIXED_BYTES, V2_SIGNATURE, v2TotalBytes, v2Version } from './proxy-v2';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';

export type ProxyDecodeResult =
  | { readonly status: 'more' }
  | { readonly status: 'done'; readonly header: ProxyHeader; readonly rest: Buffer }
  | { readonly status: 'error'; readonly reason: ProxyRefusal };

const MORE: ProxyDecodeResult = Object.freeze({ status: 'more' });
const ERRORS = new Map<ProxyRefusal, ProxyDecodeResult>();
function refuse(reason: ProxyRefusal): ProxyDecodeResult {
  let result = ERRORS.get(reason);
  if (!result) ERRORS.set(reason, (result = Object.freeze({ status: 'error', reason })));
  return result;
}

const CR = 0x0d;
const LF = 0x0a;
const EMPTY = Buffer.alloc(0);

/** Which header the bytes so far are: not known yet, v1 text, v2 binary. */
const UNKNOWN_VERSION = 0;

/**
 * Decodes the PROXY protocol header at the start of a connection, fed the
 * chunks as they arrive, whatever their split points (Netty's
 * HAProxyMessageDecoder, as a plain object the admission stage drives).
 *
 * `push(chunk)` answers `more`, `done` (the header, and the bytes of the chunk
 * after it: the application's first bytes, never copied), or `error` with a
 * reason; bad input never throws. It decides as early as the bytes allow: a
 * first byte that starts no signature is refused at once.
 *
 * Memory is bounded by the header: a header that arrives whole in one chunk
 * (the usual case: senders write it at once) is read in place; otherwise only
 * the header's own bytes are copied, into one buffer of at most 107 bytes
 * (v1) or 16 + the declared length (v2, at most `maxV2Bytes`).
 */
export class ProxyHeaderDecoder {
  private held: Buffer | undefined;
  private heldLength = 0;
  private version = UNKNOWN_VERSION;
  /** v1: where the CRLF search resumes in `held`. */
  private scanned = 0;
  private finished = false;

  /**
   * @param mode which versions are accepted; the other version's header is
   *   refused as `unsupported-version`.
   * @param maxV2Bytes the longest v2 header accepted, 16 + length, up to the
   *   spec's 65551; a longer one is refused as `oversized` from its first 16 bytes.
   */
  constructor(
    readonly mode: ProxyProtocolMode = 'auto',
    readonly maxV2Bytes: number = PROXY_V2_MAX_BYTES,
  ) {
    if (mode !== 'v1' && mode !== 'v2' && mode !== 'auto') {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `proxyProtocol must be 'v1', 'v2' or 'auto' (got ${String(mode)})`);
    }
    if (!Number.isInteger(maxV2Bytes) || maxV2Bytes < V2_FIXED_BYTES || maxV2Bytes > PROXY_V2_MAX_BYTES) {
      throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `maxV2Bytes must be an integer from ${V2_FIXED_BYTES} to ${PROXY_V2_MAX_BYTES} (got ${String(maxV2Bytes)})`);
    }
  }

  /** Bytes held of a header not yet complete. */
  get pendingBytes(): number {
    return this.heldLength;
  }

  push(chunk: Buffer): ProxyDecodeResult {
    if (this.finished) throw icsError(Error, ICS_ERR.PROXY_DECODER_FINISHED, 'ProxyHeaderDecoder: push() after the header was decoded or refused');
    if (chunk.length === 0) return MORE;
    if (this.heldLength === 0) {
      const result = this.examine(chunk, chunk.length, chunk);
      if (result !== MORE) return result;
      // Every byte of the chunk belongs to the header (else examine would have ended it).
      this.held = Buffer.allocUnsafe(this.capacity(chunk));
      chunk.copy(this.held, 0);
      this.heldLength = chunk.length;
      return MORE;
    }
    // At most two passes: a v2 header's fixed part completes in the first,
    // which makes its whole length known, and the second copies up to it.
    let offset = 0;
    let result = MORE;
    for (let pass = 0; pass < 2 && offset < chunk.length; pass++) {
      const capacity = this.capacity(this.held!);
      if (capacity > this.held!.length) this.grow(capacity);
      const take = Math.min(capacity - this.heldLength, chunk.length - offset);
      chunk.copy(this.held!, this.heldLength, offset, offset + take);
      this.heldLength += take;
      offset += take;
      result = this.examine(this.held!, this.heldLength, chunk, offset);
      if (result !== MORE) return result;
    }
    return result;
  }

  /** The connection ended: a header still incomplete is `truncated`. */
  end(): ProxyDecodeResult {
    if (this.finished) throw icsError(Error, ICS_ERR.PROXY_DECODER_FINISHED, 'ProxyHeaderDecoder: end() after the header was decoded or refused');
    return this.fail('truncated');
  }

  /**
   * Looks at bytes[0..length) (the header's bytes so far, or a whole first
   * chunk). `chunk` and `consumed` locate the application bytes after a
   * header that ends here: chunk[consumed - (length - headerEnd)..).
   */
  private examine(bytes: Buffer, length: number, chunk: Buffer, consumed = length): ProxyDecodeResult {
    if (this.version === UNKNOWN_VERSION) {
      const first = bytes[0];
      if (first === V1_SIGNATURE[0]) this.version = 1;
      else if (first === V2_SIGNATURE[0]) this.version = 2;
      else return this.fail('not-proxy');
    }
    if (this.version === 1) {
      if (!matchesPrefix(bytes, length, V1_SIGNATURE)) return this.fail('not-proxy');
      if (length < V1_SIGNATURE.length) return MORE;
      if (this.mode === 'v2') return this.fail('unsupported-version');
      const lineEnd = this.findCrlf(bytes, length);
      if (lineEnd === -2) return this.fail('malformed');
      if (lineEnd === -3) return this.fail('oversized');
      if (lineEnd === -1) return length >= PROXY_V1_MAX_BYTES ? this.fail('oversized') : MORE;
      const header = parseProxyV1(bytes, lineEnd);
      return this.complete(header, chunk, consumed - (length - lineEnd));
    }
    if (!matchesPrefix(bytes, length, V2_SIGNATURE)) return this.fail('not-proxy');
    if (length <= V2_SIGNATURE.length) return MORE;
    if (this.mode === 'v1' || v2Version(bytes) !== 2) return this.fail('unsupported-version');
    if (length < V2_FIXED_BYTES) return MORE;
    const total = v2TotalBytes(bytes);
    if (total > this.maxV2Bytes) return this.fail('oversized');
    if (length < total) return MORE;
    return this.complete(parseProxyV2(bytes, total), chunk, consumed - (length - total));
  }

  /**
   * The end of the v1 line (after its CRLF) within bytes[0..length), -1 when
   * not there yet, -2 for a CR or LF alone (the spec allows no other line end),
   * -3 when the CRLF could only end past 107 bytes.
   */
  private findCrlf(bytes: Buffer, length: number): number {
    let i = this.scanned > V1_SIGNATURE.length ? this.scanned : V1_SIGNATURE.length;
    const stop = length < PROXY_V1_MAX_BYTES ? length : PROXY_V1_MAX_BYTES;
    for (; i < stop; i++) {
      const c = bytes[i];
      if (c === LF) return -2;
      if (c === CR) {
        if (i + 2 > PROXY_V1_MAX_BYTES) return -3;
        if (i + 1 === length) break;
        return bytes[i + 1] === LF ? i + 2 : -2;
      }
    }
    this.scanned = i;
    return -1;
  }

  /** How many header bytes may be held: v1's line bound, or v2's fixed part, then its whole length. */
  private capacity(bytes: Buffer): number {
    if (this.version === 1) return PROXY_V1_MAX_BYTES;
    const length = bytes === this.held ? this.heldLength : bytes.length;
    return length >= V2_FIXED_BYTES ? v2TotalBytes(bytes) : V2_FIXED_BYTES;
  }

  private grow(size: number): void {
    const bigger = Buffer.allocUnsafe(size);
    this.held!.copy(bigger, 0, 0, this.heldLength);
    this.held = bigger;
  }

  private complete(header: ProxyHeader | ProxyRefusal, chunk: Buffer, restStart: number): ProxyDecodeResult {
    if (typeof header === 'string') return this.fail(header);
    this.finished = true;
    this.held = undefined;
    this.heldLength = 0;
    const rest = restStart < chunk.length ? chunk.subarray(restStart) : EMPTY;
    return { status: 'done', header, rest };
  }

  private fail(reason: ProxyRefusal): ProxyDecodeResult {
    this.finished = true;
    this.held = undefined;
    this.heldLength = 0;
    return refuse(reason);
  }
}

/** bytes[0..length) agrees with the signature as far as both go. */
function matchesPrefix(bytes: Buffer, length: number, signature: Buffer): boolean {
  const stop = length < signature.length ? length : signature.length;
  for (let i = 0; i < stop; i++) if (bytes[i] !== signature[i]) return false;
  return true;
}
