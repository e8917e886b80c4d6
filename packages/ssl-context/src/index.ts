export { TSslContext, validateSslContextOptions } from './ssl-context';
export type { ReloadResult, SslContextEvents, SslContextOptions, SslVerifyPeer } from './ssl-context';
export {
  DEFAULT_SSL_SRV_SECURITY,
  MOZILLA_BACK,
  MOZILLA_TLS12,
  SSL_SRV_SECURITY_LEVELS,
  TLS13_SUITES,
  isSslSrvSecurity,
  securityProfile,
} from './security-levels';
export type { SecurityProfile, SslSrvSecurity } from './security-levels';
export { IdentityError, isInlinePem, loadIdentity } from './identity';
export type { IdentitySources, LoadedIdentity } from './identity';
export { certificateFacts, describeCertificate, keyStrength, normalizeHostName, subjectAltNames } from './cert-facts';
export type { CertificateFacts, KeyStrength } from './cert-facts';
export { createDevCA, createDevCertificate } from './dev-certificates';
export type { DevCertificateOptions, DevIdentity } from './dev-certificates';
