import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startTestDaemon, importBusybox, type TestDaemon } from '../helpers/daemon-harness.js';
import { DOCKER_PY_SKIP } from '../helpers/client-clis.js';

let d: TestDaemon;

before(async () => {
  d = await startTestDaemon();
  await importBusybox(d, 'busybox:latest');
});
after(async () => { await d?.destroy(); });

const SCRIPT = `
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1])
assert c.version()['ApiVersion'] == '1.44'
out = c.containers.run('busybox', ['sh', '-c', 'echo from-docker-py'], remove=True)
assert out == b'from-docker-py\\n', out
ctr = c.containers.run('busybox', ['sh', '-c', 'echo line1; echo line2 >&2; exit 4'], detach=True, name='pyctr')
res = ctr.wait()
assert res['StatusCode'] == 4, res
logs = ctr.logs(stdout=True, stderr=True)
assert b'line1\\n' in logs and b'line2\\n' in logs, logs
ctr.reload()
assert ctr.status == 'exited', ctr.status
assert c.containers.get('pyctr').id == ctr.id
ctr.remove()
try:
    c.containers.get('pyctr')
    raise SystemExit('container still there')
except docker.errors.NotFound:
    pass
try:
    # docker-py pulls after the 404; the registry (a closed loopback port) answers nothing
    c.containers.run('127.0.0.1:1/nosuchimage-x', 'true')
    raise SystemExit('ran an image that does not exist')
except docker.errors.ImageNotFound:
    pass
except docker.errors.APIError as e:
    assert '127.0.0.1:1' in str(e), e
print('ok')
`;

test('docker-py 7 runs, reads logs, waits for and removes a container', { skip: DOCKER_PY_SKIP }, () => {
  const out = execFileSync('python3', ['-c', SCRIPT, d.host], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(out.trim(), 'ok');
});
