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
after(async () => {
  d?.berth(['rm', '-f', 'pyweb', 'pyclient']);
  d?.berth(['network', 'rm', 'pynet']);
  await d?.destroy();
});

// Names are looked up in a retry loop: aardvark-dns may still be coming up for a new network.
const SCRIPT = `
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1])
net = c.networks.create('pynet', driver='bridge', labels={'suite': 'py'})
assert net.name == 'pynet' and net.attrs['Driver'] == 'bridge', net.attrs
assert c.networks.get(net.id).attrs['Labels'] == {'suite': 'py'}
assert [n.name for n in c.networks.list(names=['pynet'])] == ['pynet']
web = c.containers.run('busybox', ['httpd', '-f', '-p', '80', '-h', '/etc'], detach=True, name='pyweb', network='pynet')
fetch = 'for i in $(seq 1 20); do wget -qO- http://%s/hostname && exit 0; sleep 0.5; done; exit 1'
out = c.containers.run('busybox', ['sh', '-c', fetch % 'pyweb'], network='pynet', remove=True)
assert out.strip() == web.id[:12].encode(), out
client = c.containers.run('busybox', ['sleep', '120'], detach=True, name='pyclient')
net.connect(client, aliases=['pyalias'])
net.reload()
assert {x.name for x in net.containers} == {'pyweb', 'pyclient'}, [x.name for x in net.containers]
client.reload()
ep = client.attrs['NetworkSettings']['Networks']['pynet']
assert 'pyalias' in (ep['Aliases'] or []), ep
code, res = client.exec_run(['sh', '-c', fetch % 'pyweb'])
assert code == 0 and res.strip() == web.id[:12].encode(), (code, res)
code, res = web.exec_run(['sh', '-c', 'for i in $(seq 1 20); do nslookup pyalias && exit 0; sleep 0.5; done; exit 1'])
assert code == 0 and ep['IPAddress'].encode() in res, (code, res, ep)
net.disconnect(client)
client.reload()
assert 'pynet' not in client.attrs['NetworkSettings']['Networks'], client.attrs['NetworkSettings']['Networks']
code, res = client.exec_run(['timeout', '3', 'wget', '-qO-', 'http://pyweb/hostname'])
assert code not in (0, 139) and web.id[:12].encode() not in res, (code, res)
try:
    net.remove()
    raise SystemExit('a network in use was removed')
except docker.errors.APIError as e:
    assert e.response.status_code == 403, e
client.remove(force=True)
web.remove(force=True)
net.remove()
try:
    c.networks.get('pynet')
    raise SystemExit('network still there')
except docker.errors.NotFound:
    pass
print('ok')
`;

test('docker-py 7: network create, run on it, resolve by name and alias, connect, disconnect, remove', { skip: DOCKER_PY_SKIP }, () => {
  const out = execFileSync('python3', ['-c', SCRIPT, d.host], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(out.trim(), 'ok');
});
