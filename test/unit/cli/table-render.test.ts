import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tabulate } from '../../../src/cli/tab-writer.js';
import { renderRows, ellipsis, truncateId } from '../../../src/cli/template-format.js';
import { ContainerRow, CONTAINER_HEADERS, DEFAULT_PS_FORMAT, displayablePorts } from '../../../src/cli/container-row.js';
import { imageRows, IMAGE_HEADERS, DEFAULT_IMAGES_FORMAT } from '../../../src/cli/image-row.js';
import type { ContainerSummary } from '../../../src/engine-api/container-models.js';
import type { ImageSummary } from '../../../src/engine-api/image-models.js';

test('tabwriter pads to max(width+3, 10) and leaves the last cell alone', () => {
  assert.equal(tabulate('A\tBB\tC\nxxxxxxxxxxxx\ty\tz\n'), 'A              BB        C\nxxxxxxxxxxxx   y         z\n');
});

test('an empty ps renders the header exactly like docker', () => {
  const out = renderRows({ format: '', defaultFormat: DEFAULT_PS_FORMAT, headers: CONTAINER_HEADERS, rows: [] });
  assert.equal(out, 'CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n');
});

const now = 1_700_000_000_000;
const container: ContainerSummary = {
  Id: '2a8611531fc06a03da4ba3482496b62f00f2cab4341411538629478808af0e5f',
  Names: ['/t2'], Image: 'busybox', ImageID: 'sha256:1b58b20f0726', Command: 'sleep 1000000000000000000',
  Created: now / 1000 - 120, Ports: [], Labels: { a: 'b' }, State: 'running', Status: 'Up 2 minutes', Mounts: [],
};

test('ps rows: truncated id, quoted and ellipsised command, human time', () => {
  const out = renderRows({ format: '', defaultFormat: DEFAULT_PS_FORMAT, headers: CONTAINER_HEADERS, rows: [new ContainerRow(container, { trunc: true, now })] });
  assert.equal(out,
    'CONTAINER ID   IMAGE     COMMAND                  CREATED         STATUS         PORTS     NAMES\n' +
    '2a8611531fc0   busybox   "sleep 1000000000000…"   2 minutes ago   Up 2 minutes             t2\n');
});

test('custom table format with a label method', () => {
  const out = renderRows({ format: 'table {{.ID}}\\t{{.Label "a"}}', defaultFormat: DEFAULT_PS_FORMAT, headers: CONTAINER_HEADERS, rows: [new ContainerRow(container, { trunc: false, now })] });
  assert.equal(out, `CONTAINER ID${' '.repeat(55)}a\n${container.Id}   b\n`);
});

test('images table layout', () => {
  const images: ImageSummary[] = [
    { Id: 'sha256:1b58b20f072689885d0b7dc7a8dbf33f911366c9c16bac50e8ff63e1dde11659', ParentId: '', RepoTags: ['busybox:latest'], RepoDigests: [], Created: now / 1000 - 600, Size: 1982464, SharedSize: -1, Labels: null, Containers: -1 },
    { Id: 'sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', ParentId: '', RepoTags: [], RepoDigests: [], Created: now / 1000 - 600, Size: 5, SharedSize: -1, Labels: null, Containers: -1 },
  ];
  const out = renderRows({ format: '', defaultFormat: DEFAULT_IMAGES_FORMAT, headers: IMAGE_HEADERS, rows: imageRows(images, { trunc: true, digests: false, now }) });
  assert.equal(out,
    'REPOSITORY   TAG       IMAGE ID       CREATED          SIZE\n' +
    'busybox      latest    1b58b20f0726   10 minutes ago   1.98MB\n' +
    '<none>       <none>    aaaaaaaaaaaa   10 minutes ago   5B\n');
});

test('helpers', () => {
  assert.equal(ellipsis('abcdef', 4), 'abc…');
  assert.equal(ellipsis('abc', 4), 'abc');
  assert.equal(truncateId('sha256:0123456789abcdef'), '0123456789ab');
  assert.equal(displayablePorts([
    { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
    { IP: '0.0.0.0', PrivatePort: 81, PublicPort: 8081, Type: 'tcp' },
    { PrivatePort: 443, Type: 'tcp' },
  ]), '0.0.0.0:8080-8081->80-81/tcp, 443/tcp');
});
