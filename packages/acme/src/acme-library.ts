import type * as AcmeClient from 'acme-client';

let loaded: typeof AcmeClient | undefined;

/**
 * acme-client, loaded on first use: requiring it (axios, node-forge, asn1js, @peculiar/x509) takes
 * about half a second, which a server without certAutoOrder hosts, or one between orders, should not
 * pay at start. Everything here that needs it calls this.
 */
export function acmeLibrary(): typeof AcmeClient {
  loaded ??= require('acme-client') as typeof AcmeClient;
  return loaded;
}
