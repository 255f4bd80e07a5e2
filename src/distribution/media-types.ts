/** Media types of the Docker and OCI image formats that pull and push deal with. */
export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  schema1: 'application/vnd.docker.distribution.manifest.v1+json',
  schema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNonDist: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNonDistGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
} as const;

/** The Accept header of a manifest request: every format we can read, lists included. */
export const MANIFEST_ACCEPT = [MEDIA.dockerManifest, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.ociIndex, MEDIA.schema1Signed, MEDIA.schema1].join(', ');

export type LayerCompression = 'gzip' | 'zstd' | 'none';

/** How a layer blob is compressed, from its media type; undefined for a type that is not a layer. */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  switch (mediaType) {
    case MEDIA.dockerLayer: case MEDIA.dockerForeignLayer: case MEDIA.ociLayerGzip: case MEDIA.ociLayerNonDistGzip:
      return 'gzip';
    case MEDIA.ociLayer: case MEDIA.ociLayerNonDist: case 'application/vnd.docker.image.rootfs.diff.tar':
      return 'none';
    case MEDIA.ociLayerZstd: case 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd':
      return 'zstd';
    default:
      return undefined;
  }
}
