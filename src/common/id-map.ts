/** One range of a user namespace mapping: `size` ids from `containerId` inside to `hostId` outside. */
export interface IdMap {
  containerId: number;
  hostId: number;
  size: number;
}

/** The uid and gid ranges of a user namespace (daemon `userns-remap`). */
export interface IdMapping {
  uidMaps: IdMap[];
  gidMaps: IdMap[];
}

/** The host id an id inside the namespace stands for; undefined when the id is not mapped. */
export function hostIdOf(maps: readonly IdMap[], id: number): number | undefined {
  for (const m of maps) if (id >= m.containerId && id < m.containerId + m.size) return m.hostId + (id - m.containerId);
  return undefined;
}

/** The id inside the namespace a host id shows as; undefined when it is not mapped. */
export function containerIdOf(maps: readonly IdMap[], id: number): number | undefined {
  for (const m of maps) if (id >= m.hostId && id < m.hostId + m.size) return m.containerId + (id - m.hostId);
  return undefined;
}

/** The host uid and gid of the namespace's root. */
export function hostRootOf(m: IdMapping): { uid: number; gid: number } {
  return { uid: hostIdOf(m.uidMaps, 0) ?? 0, gid: hostIdOf(m.gidMaps, 0) ?? 0 };
}

/** The container-side owner of a host-side file, as the kernel shows it (65534 when unmapped). */
export function containerOwnerOf(m: IdMapping, uid: number, gid: number): { uid: number; gid: number } {
  return { uid: containerIdOf(m.uidMaps, uid) ?? 65534, gid: containerIdOf(m.gidMaps, gid) ?? 65534 };
}

/** The host-side owner of a file owned by `uid`:`gid` in the container (host root's own when unmapped). */
export function hostOwnerOf(m: IdMapping, uid: number, gid: number): { uid: number; gid: number } {
  const root = hostRootOf(m);
  return { uid: hostIdOf(m.uidMaps, uid) ?? root.uid, gid: hostIdOf(m.gidMaps, gid) ?? root.gid };
}

/** Checks the shape of a mapping read back from disk. */
export function isIdMapping(v: unknown): v is IdMapping {
  const ok = (list: unknown): boolean => Array.isArray(list) && list.length > 0 && list.every((x) =>
    typeof x === 'object' && x !== null && [x.containerId, x.hostId, x.size].every((n) => Number.isInteger(n) && n >= 0));
  return typeof v === 'object' && v !== null && ok((v as IdMapping).uidMaps) && ok((v as IdMapping).gidMaps);
}
