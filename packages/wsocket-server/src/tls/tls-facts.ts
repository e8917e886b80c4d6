import * as tls from 'node:tls';

/** The TLS facts of a connection, read once its handshake is done. */
export interface TlsFacts {
  /** 'TLSv1.3', 'TLSv1.2' */
  protocol: string;
  /** OpenSSL name of the cipher: 'TLS_AES_256_GCM_SHA384' */
  cipher: string;
  /** The server name the client asked for (SNI), '' when it sent none. */
  serverName: string;
  /** The ALPN protocol agreed, '' when none. */
  alpnProtocol: string;
  /** The client certificate, when one was asked for and sent. */
  peerCertificate: tls.PeerCertificate | undefined;
  /** The client certificate verified against sslCA. */
  authorized: boolean;
}

/** Reads the facts of a TLS socket; undefined for a plain one. */
export function readTlsFacts(socket: unknown): TlsFacts | undefined {
  if (!(socket instanceof tls.TLSSocket)) return undefined;
  // No client certificate can have come when none was asked for: skip the call (and its object).
  const asked = (socket as unknown as { _requestCert?: boolean })._requestCert === true;
  const certificate = asked ? socket.getPeerCertificate() : undefined;
  const serverName = (socket as { servername?: string | false }).servername;
  return {
    protocol: socket.getProtocol() ?? '',
    cipher: socket.getCipher()?.name ?? '',
    serverName: typeof serverName === 'string' ? serverName : '',
    alpnProtocol: socket.alpnProtocol || '',
    peerCertificate: certificate && Object.keys(certificate).length > 0 ? certificate : undefined,
    authorized: socket.authorized === true,
  };
}
