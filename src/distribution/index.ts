export { DistributionService, type DistributionOptions } from './distribution-service.js';
export { decodeAuthHeader, normalizeAuth, registryHostOf, type AuthConfig } from './auth-config.js';
export { parseChallenges, type AuthChallenge } from './auth-challenge.js';
export { parseManifest, parsePlatform, selectManifest, hostPlatform, formatPlatform, type Platform, type ParsedManifest } from './manifest.js';
export { MEDIA, MANIFEST_ACCEPT, layerCompression } from './media-types.js';
export { progressBar, humanSize, type ProgressMessage, type ProgressSink } from './progress.js';
export { validateInsecureRegistry, validateMirror, RegistryHosts } from './registry-hosts.js';
export type { SearchResult } from './search-service.js';
export { checkLayerBlobs, sweepUnrecordedBlobs } from './layer-blob-check.js';
