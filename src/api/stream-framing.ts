/** stdcopy: an 8-byte header ([stream, 0, 0, 0, size BE32]) before each chunk of non-TTY output. */
export function stdcopyFrame(stream: 'stdin' | 'stdout' | 'stderr' | 'system', data: Buffer): Buffer {
  const type = stream === 'stdin' ? 0 : stream === 'stdout' ? 1 : stream === 'stderr' ? 2 : 3;
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}

export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';
