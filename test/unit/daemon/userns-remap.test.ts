import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '../../../src/common/log.js';
import {
  mappingFromRanges, nextRangeStart, parseSubIds, resolveRemapNames, setupRemappedRoot, type RemapFiles,
} from '../../../src/daemon/userns-remap.js';

function files(t: { after(fn: () => void): void }, content: Partial<Record<keyof RemapFiles, string>>): RemapFiles {
  const dir = mkdtempSync(join(tmpdir(), 'berth-remap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = {} as RemapFiles;
  for (const k of ['passwd', 'group', 'subuid', 'subgid'] as const) {
    out[k] = join(dir, k);
    writeFileSync(out[k], content[k] ?? '');
  }
  return out;
}

const PASSWD = 'root:x:0:0:root:/root:/bin/bash\nalice:x:1001:1001::/home/alice:/bin/sh\nbob:x:1002:1002::/home/bob:/bin/sh\n';
const GROUP = 'root:x:0:\nalice:x:1001:\nstaff:x:50:\n';
const noCreate = async (): Promise<void> => { throw new Error('must not create'); };

test('a remap value names a user and a group as dockerd resolves them', async (t) => {
  const f = files(t, { passwd: PASSWD, group: GROUP });
  assert.deepEqual(await resolveRemapNames('alice', f, noCreate), { user: 'alice', group: 'alice' });
  assert.deepEqual(await resolveRemapNames('alice:staff', f, noCreate), { user: 'alice', group: 'staff' });
  assert.deepEqual(await resolveRemapNames('1001', f, noCreate), { user: 'alice', group: 'alice' });
  assert.deepEqual(await resolveRemapNames('1001:50', f, noCreate), { user: 'alice', group: 'staff' });
});

test('unknown users and groups are refused in dockerd\'s words', async (t) => {
  const f = files(t, { passwd: PASSWD, group: GROUP });
  await assert.rejects(resolveRemapNames('a:b:c', f, noCreate), { message: 'Invalid user/group specification in --userns-remap: "a:b:c"' });
  await assert.rejects(resolveRemapNames('nobody1', f, noCreate), { message: 'Error during uid lookup for "nobody1": getent unable to find entry "nobody1" in passwd database' });
  await assert.rejects(resolveRemapNames('bob', f, noCreate), { message: 'Error during gid lookup for "bob": getent unable to find entry "bob" in group database' });
  await assert.rejects(resolveRemapNames('4242', f, noCreate), { message: 'Uid 4242 has no entry in /etc/passwd: getent unable to find entry "4242" in passwd database' });
  await assert.rejects(resolveRemapNames('1002', f, noCreate), { message: 'Gid 1002 has no entry in /etc/group: getent unable to find entry "1002" in group database' });
  await assert.rejects(resolveRemapNames('alice:nogroup', f, noCreate), { message: 'Error during groupname lookup for "nogroup": getent unable to find entry "nogroup" in group database' });
});

test('default uses dockremap, creating it only when it is missing', async (t) => {
  const f = files(t, { passwd: `${PASSWD}dockremap:x:998:998::/:/bin/false\n`, group: `${GROUP}dockremap:x:998:\n` });
  assert.deepEqual(await resolveRemapNames('default', f, noCreate), { user: 'dockremap', group: 'dockremap' });
  const bare = files(t, { passwd: PASSWD, group: GROUP });
  let created = 0;
  assert.deepEqual(await resolveRemapNames('default', bare, async () => { created++; }), { user: 'dockremap', group: 'dockremap' });
  assert.equal(created, 1);
  await assert.rejects(resolveRemapNames('default', bare, async () => { throw new Error('no adduser'); }), { message: 'Error during "dockremap" user creation: no adduser' });
});

test('subordinate ranges become consecutive mappings from 0; ranges are found by name or uid', () => {
  const ranges = parseSubIds('# comment\nalice:100000:65536\nbob:200000:1000\n1001:300000:10\nbad line\n');
  assert.equal(ranges.length, 3);
  const m = mappingFromRanges({ name: 'alice', uid: 1001, gid: 1001 }, ranges, parseSubIds('alice:500000:65536\n'));
  assert.deepEqual(m.uidMaps, [{ containerId: 0, hostId: 100000, size: 65536 }, { containerId: 65536, hostId: 300000, size: 10 }]);
  assert.deepEqual(m.gidMaps, [{ containerId: 0, hostId: 500000, size: 65536 }]);
  assert.throws(() => mappingFromRanges({ name: 'carol', uid: 1003, gid: 1003 }, ranges, ranges),
    { message: 'Can\'t create ID mappings: no subuid ranges found for user "carol"' });
});

test('a new range starts at 100000, after any range it would overlap', () => {
  assert.equal(nextRangeStart([]), 100000);
  assert.equal(nextRangeStart(parseSubIds('a:100000:65536\n')), 165536);
  assert.equal(nextRangeStart(parseSubIds('b:165536:65536\na:100000:65536\n')), 231072);
  assert.equal(nextRangeStart(parseSubIds('a:1000000:65536\n')), 100000);
});

test('remapping to root turns user namespaces off; a user without ranges is an error', async (t) => {
  const f = files(t, { passwd: PASSWD, group: GROUP, subuid: 'alice:100000:65536\n', subgid: 'alice:100000:65536\n' });
  const logger = new Logger('error');
  assert.equal(await setupRemappedRoot('root', logger, f), undefined);
  assert.equal(await setupRemappedRoot('', logger, f), undefined);
  assert.deepEqual(await setupRemappedRoot('alice', logger, f), {
    uidMaps: [{ containerId: 0, hostId: 100000, size: 65536 }], gidMaps: [{ containerId: 0, hostId: 100000, size: 65536 }],
  });
  await assert.rejects(setupRemappedRoot('1002:50', logger, f), /no subuid ranges found for user "bob"/);
});
