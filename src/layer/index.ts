export type { GraphDriver, ApplyDiffOptions, CreateLayerOptions } from './graph-driver.js';
export { Overlay2Driver, type Overlay2DriverOptions } from './overlay2-driver.js';
export { VfsDriver, type VfsDriverOptions } from './vfs-driver.js';
export {
  LayerStore, decompressedStream, DEFAULT_MAX_UNCOMPRESSED, type LayerStoreOptions, type LayerRecord, type PendingLayer, type RegisterOptions, type RegisterResult,
} from './layer-store.js';
export { applyTar, cleanMemberName, type ApplyTarOptions, type WhiteoutFormat } from './tar-apply.js';
export { tarDiff, listChanges, type TarDiffSource, type TarDiffOptions, type FileChange } from './tar-diff.js';
export { TarSplitRecorder, assembleTar, verifiedStream } from './tar-split.js';
export { encodeTarHeader, tarPadding, TAR_END_OF_ARCHIVE, type TarHeader } from './tar-header.js';
export { createGraphDriver, type CreateGraphDriverOptions } from './create-graph-driver.js';
export { PaxTap, MAX_SPECIAL_RECORD } from './pax-tap.js';
export { checkLayers, layerClosure, type LayerCheckOptions } from './layer-check.js';
export { checkStorageOptions, checkContainerStorageOpt, OVERLAY_STORAGE_OPT_UNSUPPORTED } from './storage-options.js';
