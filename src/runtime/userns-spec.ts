import type { IdMapping } from '../common/index.js';
import type { OciIdMapping, OciMount, OciSpec } from './oci-spec.js';

function oci(maps: IdMapping['uidMaps']): OciIdMapping[] {
  return maps.map((m) => ({ containerID: m.containerId, hostID: m.hostId, size: m.size }));
}

/**
 * Puts the container in the user namespace at `path` (made with `m`'s ranges; its root is the
 * first subordinate id on the host). The namespaces it joins by path must belong to that user
 * namespace. The runtime binds the device nodes it cannot create inside; the cgroup mount loses
 * its `ro`, which cannot be applied to it from inside the namespace (as with Docker).
 */
export function withUserNamespace(spec: OciSpec, m: IdMapping, path: string): OciSpec {
  const namespaces = spec.linux.namespaces.filter((n) => n.type !== 'user');
  namespaces.unshift({ type: 'user', path });
  // The host's IPC namespace (`--ipc host`) belongs to the host's user namespace, whose mqueue
  // filesystem cannot be mounted from inside: the container goes without /dev/mqueue.
  const hostIpc = !namespaces.some((n) => n.type === 'ipc');
  const mounts = spec.mounts
    .filter((mt) => !(hostIpc && mt.type === 'mqueue'))
    .map((mt): OciMount => (mt.type === 'cgroup' ? { ...mt, options: mt.options.filter((o) => o !== 'ro') } : mt));
  return { ...spec, mounts, linux: { ...spec.linux, namespaces, uidMappings: oci(m.uidMaps), gidMappings: oci(m.gidMaps) } };
}
