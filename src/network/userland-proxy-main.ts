/**
 * The userland proxy: one process per container with published ports, run when berthd leaves
 * the firewall alone (`--iptables=false`). It listens on each host address and port and forwards
 * TCP connections and UDP datagrams to the container's address. It runs detached from berthd, so
 * published ports keep answering while berthd restarts; berthd ends it (SIGTERM) when the
 * container's run ends.
 *
 * argv: --container <id> --mappings <json> ; readiness goes to fd 3 as one line, `ok` or
 * `error <proto> <host>:<port> <reason>`, then fd 3 is closed.
 *
 * This file is a program of its own: it imports only Node's modules.
 */
import { closeSync, writeSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';

interface Mapping {
  proto: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
}

/** A UDP "connection" is forgotten after this long without traffic (Docker's proxy: 90 s). */
const UDP_IDLE_MS = 90_000;

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) throw new Error(`missing ${name}`);
  return v;
}

function report(line: string): void {
  try {
    writeSync(3, `${line}\n`);
    closeSync(3);
  } catch { /* berthd is gone: nobody to tell */ }
}

function proxyTcp(m: Mapping): Promise<Server> {
  const srv = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client: Socket) => {
    const upstream = createConnection({ host: m.containerIp, port: m.containerPort, allowHalfOpen: true });
    const done = (): void => { client.destroy(); upstream.destroy(); };
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    upstream.once('connect', () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host: m.hostIp, port: m.hostPort, exclusive: true }, () => {
      srv.off('error', reject);
      srv.on('error', () => undefined);
      resolve(srv);
    });
  });
}

function proxyUdp(m: Mapping): Promise<UdpSocket> {
  const front = createSocket({ type: 'udp4' });
  const peers = new Map<string, { sock: UdpSocket; timer: NodeJS.Timeout }>();
  front.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let peer = peers.get(key);
    if (!peer) {
      const sock = createSocket({ type: 'udp4' });
      const forget = (): void => {
        const p = peers.get(key);
        if (p) { clearTimeout(p.timer); peers.delete(key); }
        try { sock.close(); } catch { /* closed */ }
      };
      sock.on('message', (reply) => {
        const p = peers.get(key);
        if (p) p.timer.refresh();
        front.send(reply, rinfo.port, rinfo.address);
      });
      sock.on('error', forget);
      peer = { sock, timer: setTimeout(forget, UDP_IDLE_MS) };
      peers.set(key, peer);
    } else {
      peer.timer.refresh();
    }
    peer.sock.send(msg, m.containerPort, m.containerIp);
  });
  return new Promise((resolve, reject) => {
    front.once('error', reject);
    front.bind({ address: m.hostIp, port: m.hostPort, exclusive: true }, () => {
      front.off('error', reject);
      front.on('error', () => undefined);
      resolve(front);
    });
  });
}

async function main(): Promise<void> {
  arg('--container');
  const mappings = JSON.parse(arg('--mappings')) as Mapping[];
  const listeners: Array<{ close: () => unknown }> = [];
  process.on('SIGTERM', () => {
    for (const l of listeners) { try { l.close(); } catch { /* closed */ } }
    process.exit(0);
  });
  process.on('SIGINT', () => undefined);
  process.on('SIGHUP', () => undefined);
  for (const m of mappings) {
    try {
      listeners.push(m.proto === 'udp' ? await proxyUdp(m) : await proxyTcp(m));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const reason = e.code === 'EADDRINUSE' ? 'address already in use'
        : e.code === 'EADDRNOTAVAIL' ? 'cannot assign requested address'
          : e.code === 'EACCES' ? 'permission denied' : e.message;
      report(`error ${m.proto} ${m.hostIp}:${m.hostPort} ${reason}`);
      process.exit(1);
    }
  }
  report('ok');
}

main().catch((err: Error) => {
  report(`error - - ${err.message}`);
  process.exit(1);
});
