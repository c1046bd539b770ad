// The SDK's core: no Node-only imports, so it runs in Node 20+, Electron and browsers (WebCrypto, fetch).
export { createTesseraClient, paginate, TesseraClient, unwrap } from './client.js';
export type {
  IssuedLicense,
  Jwks,
  License,
  LicenseFile,
  LicenseQuery,
  Machine,
  MachineQuery,
  Schemas,
  TesseraClientOptions,
} from './client.js';
export { canonicalKey } from './encoding.js';
export { TesseraApiError, TesseraNetworkError, TesseraSignatureError } from './errors.js';
export type { components, paths } from './generated/openapi.js';
export type { HeartbeatLoop, HeartbeatOptions } from './heartbeat.js';
export type { Fetch, RetryOptions } from './http.js';
export { KeySet } from './keys.js';
export { dearmour, LicenseFileError, verifyLicenseFile } from './license-file.js';
export type { FileLicense, VerifiedLicenseFile, VerifyLicenseFileOptions } from './license-file.js';
export { Licensing, needsActivation } from './licensing.js';
export type {
  LicensingOptions,
  OfflineCode,
  Scope,
  Validation,
  ValidationCode,
} from './licensing.js';
export { MemoryStore } from './store.js';
export type { LicenseStore } from './store.js';
