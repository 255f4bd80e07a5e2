import { isIP } from 'node:net';
import { InvalidParameterError } from '../common/errors.js';
import { isLogLevel, type LogLevel } from '../common/log.js';
import { validateInsecureRegistry, validateMirror } from '../distribution/index.js';
import { parseUlimitFlag } from './default-ulimits.js';

export interface DaemonOptions {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  logLevel: LogLevel;
  storageDriver: 'overlay2' | 'vfs' | undefined;
  /** The runtime for containers that name none; '' picks crun when installed, else runc. */
  defaultRuntime: string;
  /** `--add-runtime name=path` entries. */
  addRuntimes: string[];
  seccompProfile: string;
  /** Cap on a layer's (and a loaded archive's) uncompressed size; undefined: the layer store's default. */
  maxLayerSize: number | undefined;
  /** Registries reached over HTTP or unverified TLS (host[:port] or CIDR); 127.0.0.0/8 always. */
  insecureRegistries: string[];
  /** Pull-through mirrors for docker.io. */
  registryMirrors: string[];
  maxConcurrentDownloads: number;
  maxConcurrentUploads: number;
  /** Docker's certs.d layout: <dir>/<host:port>/ca.crt, client.cert, client.key. */
  registryCertsDir: string;
  help: boolean;
  version: boolean;
  /** daemon.json; the default one may be absent, an explicit one must exist. */
  configFile: string;
  configFileGiven: boolean;
  /** `--validate`: check the flags and the file, print `configuration OK`, exit. */
  validate: boolean;
  /** `--check`: verify the data root's metadata against its files (no daemon may run), report, exit. */
  check: boolean;
  /** Containers keep running while berthd is down (Docker's default is false, berth's true). */
  liveRestore: boolean;
  /** Every daemon.json directive in effect (see daemon-config.ts), wired to a flag or not. */
  config: Record<string, unknown>;
  /** `--tls` / `--tlsverify`: undefined when not given (plain TCP then needs an explicit false). */
  tls: boolean | undefined;
  tlsVerify: boolean | undefined;
  tlsCaCert: string;
  tlsCert: string;
  tlsKey: string;
  /** The default network's bridge device (`-b`, `--bridge`). */
  bridge: string;
  /** The default bridge's address and prefix (`--bip`). */
  bip: string | undefined;
  /** `--ipv6`: IPv6 on the default bridge, from `--fixed-cidr-v6` (or a unique local /64). */
  ipv6: boolean;
  fixedCidrV6: string | undefined;
  iptables: boolean;
  ipForward: boolean;
  /** Inter-container communication on the default bridge (`--icc`); false needs iptables. */
  icc: boolean;
  /** `--default-address-pool base=10.10.0.0/16,size=24` (repeatable). */
  defaultAddressPools: string[];
  /** `--dns`, `--dns-search`, `--dns-opt` (repeatable): for containers that set none of their own. */
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  /** `--userns-remap`: `default`, `user`, `user:group`, `uid`, `uid:gid`; empty for none. */
  usernsRemap: string;
  /** `--default-ulimit nofile=1024:2048` (repeatable): for containers that do not set that limit. */
  defaultUlimits: string[];
  /** `--shutdown-timeout`: seconds the daemon's stop waits for containers (Docker's default 15; -1: no limit). */
  shutdownTimeout: number;
  /** `--storage-opt` (repeatable): graph driver options such as `overlay2.size=10G`. */
  storageOpts: string[];
}

export const DEFAULT_CONFIG_FILE = '/etc/berth/daemon.json';

/** `--flag`, `--flag=true`, `--flag=false` (docker's boolean flags take no separate value). */
function boolValue(flag: string, value: string | undefined): boolean {
  if (value === undefined || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new InvalidParameterError(`invalid argument "${value}" for "${flag}" flag: strconv.ParseBool: parsing "${value}": invalid syntax`);
}

export const DEFAULT_SOCKET = 'unix:///run/berth/berth.sock';

export const USAGE = `Usage:	berthd [OPTIONS]

A Docker-compatible container engine daemon

Options:
  -H, --host list                 Daemon socket(s) to connect to (default unix:///run/berth/berth.sock)
      --data-root string          Root directory of persistent state (default "/var/lib/berth")
      --exec-root string          Root directory for execution state files (default "/run/berth")
  -p, --pidfile string            Path to use for daemon PID file (default "/run/berth/berthd.pid")
  -l, --log-level string          Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")
  -D, --debug                     Enable debug mode
  -s, --storage-driver string     Storage driver to use ("overlay2"|"vfs"; default: overlay2 when supported)
      --default-runtime string    Default OCI runtime for containers (default "crun" when installed, else "runc")
      --add-runtime runtime       Register an additional OCI compatible runtime (name=path)
      --seccomp-profile string    Path to the default seccomp profile (default "/usr/share/containers/seccomp.json")
      --config-file string        Daemon configuration file (default "/etc/berth/daemon.json")
      --validate                  Validate daemon configuration and exit
      --check                     Check the data root's metadata against its files and exit (1 when problems are found)
      --live-restore              Enable live restore of containers when the daemon stops (default true)
      --tls                       Use TLS; implied by --tlsverify
      --tlsverify                 Use TLS and verify the remote
      --tlscacert string          Trust certs signed only by this CA (default "~/.docker/ca.pem")
      --tlscert string            Path to TLS certificate file (default "~/.docker/cert.pem")
      --tlskey string             Path to TLS key file (default "~/.docker/key.pem")
      --max-layer-size bytes      Largest uncompressed layer or loaded archive accepted, e.g. 64g (default 64g)
  -b, --bridge string             Attach containers to a network bridge (default "berth0")
      --bip string                Specify network bridge IP
      --ipv6                      Enable IPv6 networking on the default bridge
      --fixed-cidr-v6 string      IPv6 subnet for the default bridge
      --default-address-pool pool Default address pools for node specific local networks
      --iptables                  Enable addition of iptables rules (default true)
      --ip-forward                Enable net.ipv4.ip_forward (default true)
      --insecure-registry list    Enable insecure registry communication
      --registry-mirror list      Preferred registry mirror
      --max-concurrent-downloads int  Set the max concurrent downloads (default 3)
      --max-concurrent-uploads int    Set the max concurrent uploads (default 5)
      --registry-certs-dir string Directory of per-registry TLS files, <dir>/<host:port>/ca.crt (default "/etc/docker/certs.d")
      --icc                       Enable inter-container communication (default true)
      --dns list                  DNS server to use
      --dns-search list           DNS search domains to use
      --dns-opt list              DNS options to use
      --userns-remap string       User/Group setting for user namespaces
      --default-ulimit ulimit     Default ulimits for containers (default [])
      --shutdown-timeout int      Set the default shutdown timeout (default 15)
      --storage-opt list          Storage driver options
  -v, --version                   Print version information and quit
  -h, --help                      Print usage
`;

/** Parses berthd's command line (docker's flag style: `--flag value` or `--flag=value`). */
export function parseDaemonArgs(argv: string[]): DaemonOptions {
  const o: DaemonOptions = {
    hosts: [],
    dataRoot: '/var/lib/berth',
    execRoot: '/run/berth',
    pidfile: '',
    logLevel: 'info',
    storageDriver: undefined,
    defaultRuntime: '',
    addRuntimes: [],
    seccompProfile: '/usr/share/containers/seccomp.json',
    maxLayerSize: undefined,
    insecureRegistries: [],
    registryMirrors: [],
    maxConcurrentDownloads: 3,
    maxConcurrentUploads: 5,
    registryCertsDir: '/etc/docker/certs.d',
    help: false,
    version: false,
    configFile: DEFAULT_CONFIG_FILE,
    configFileGiven: false,
    validate: false,
    check: false,
    liveRestore: true,
    config: {},
    tls: undefined,
    tlsVerify: undefined,
    tlsCaCert: '',
    tlsCert: '',
    tlsKey: '',
    bridge: 'berth0',
    bip: undefined,
    ipv6: false,
    fixedCidrV6: undefined,
    iptables: true,
    ipForward: true,
    icc: true,
    defaultAddressPools: [],
    dns: [],
    dnsSearch: [],
    dnsOptions: [],
    usernsRemap: '',
    defaultUlimits: [],
    shutdownTimeout: 15,
    storageOpts: [],
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const take = (): string => {
      if (value !== undefined) return value;
      const v = argv[++i];
      if (v === undefined) throw new InvalidParameterError(`flag needs an argument: ${arg}`);
      return v;
    };
    switch (arg) {
      case '-H': case '--host': o.hosts.push(take()); break;
      case '--data-root': case '-g': case '--graph': o.dataRoot = take(); break;
      case '--exec-root': o.execRoot = take(); break;
      case '-p': case '--pidfile': o.pidfile = take(); break;
      case '-l': case '--log-level': {
        const l = take();
        if (!isLogLevel(l)) throw new InvalidParameterError(`unable to parse logging level: ${l}`);
        o.logLevel = l;
        break;
      }
      case '-D': case '--debug': if (boolValue(arg, value)) o.logLevel = 'debug'; break;
      case '-s': case '--storage-driver': {
        const d = take();
        if (d !== 'overlay2' && d !== 'vfs') throw new InvalidParameterError(`unknown storage driver: ${d}`);
        o.storageDriver = d;
        break;
      }
      case '--default-runtime': o.defaultRuntime = take(); break;
      case '--add-runtime': o.addRuntimes.push(take()); break;
      case '--seccomp-profile': o.seccompProfile = take(); break;
      case '--config-file': o.configFile = take(); o.configFileGiven = true; break;
      case '--validate': o.validate = boolValue(arg, value); break;
      case '--check': o.check = boolValue(arg, value); break;
      case '--live-restore': o.liveRestore = boolValue(arg, value); break;
      case '--tls': o.tls = boolValue(arg, value); break;
      case '--tlsverify': o.tlsVerify = boolValue(arg, value); break;
      case '--tlscacert': o.tlsCaCert = take(); break;
      case '--tlscert': o.tlsCert = take(); break;
      case '--tlskey': o.tlsKey = take(); break;
      case '--max-layer-size': o.maxLayerSize = parseByteSize(take()); break;
      case '-b': case '--bridge': {
        const b = take();
        if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(b) || b === 'none') throw new InvalidParameterError(`invalid bridge name: ${b}`);
        o.bridge = b;
        break;
      }
      case '--bip': o.bip = take(); break;
      case '--ipv6': o.ipv6 = boolValue(arg, value); break;
      case '--fixed-cidr-v6': o.fixedCidrV6 = take(); break;
      case '--default-address-pool': o.defaultAddressPools.push(take()); break;
      case '--iptables':
        o.iptables = boolValue(arg, value);
        break;
      case '--ip-forward': o.ipForward = boolValue(arg, value); break;
      case '--insecure-registry': o.insecureRegistries.push(validateInsecureRegistry(take())); break;
      case '--registry-mirror': o.registryMirrors.push(validateMirror(take())); break;
      case '--max-concurrent-downloads': o.maxConcurrentDownloads = positiveInt(arg, take()); break;
      case '--max-concurrent-uploads': o.maxConcurrentUploads = positiveInt(arg, take()); break;
      case '--registry-certs-dir': o.registryCertsDir = take(); break;
      case '--icc':
        o.icc = boolValue(arg, value);
        break;
      case '--dns': {
        const d = take();
        if (!isIP(d)) throw new InvalidParameterError(`${d} is not an ip address`);
        o.dns.push(d);
        break;
      }
      case '--dns-search': o.dnsSearch.push(take()); break;
      case '--dns-opt': o.dnsOptions.push(take()); break;
      case '--userns-remap': o.usernsRemap = take(); break;
      case '--default-ulimit': {
        const u = take();
        try {
          parseUlimitFlag(u);
        } catch (err) {
          throw new InvalidParameterError(`invalid argument "${u}" for "--default-ulimit" flag: ${(err as Error).message}`);
        }
        o.defaultUlimits.push(u);
        break;
      }
      case '--shutdown-timeout': {
        const t = take();
        if (!/^[+-]?\d+$/.test(t)) throw new InvalidParameterError(`invalid argument "${t}" for "--shutdown-timeout" flag: strconv.ParseInt: parsing ${JSON.stringify(t)}: invalid syntax`);
        o.shutdownTimeout = Number(t);
        break;
      }
      case '--storage-opt': o.storageOpts.push(take()); break;
      case '-h': case '--help': o.help = true; break;
      case '-v': case '--version': o.version = true; break;
      default: throw new InvalidParameterError(`unknown flag: ${arg}`);
    }
  }
  if (!o.iptables && !o.icc) {
    throw new InvalidParameterError('You specified --iptables=false with --icc=false. ICC=false uses iptables to function. Please set --icc or --iptables to true.');
  }
  if (o.hosts.length === 0) o.hosts.push(DEFAULT_SOCKET);
  if (!o.pidfile) o.pidfile = `${o.execRoot}/berthd.pid`;
  for (const h of o.hosts) {
    if (h.startsWith('fd://')) {
      if (!/^fd:\/\/(\d*)$/.test(h)) throw new InvalidParameterError(`invalid bind address (${h})`);
    } else if (!h.startsWith('unix://') && !h.startsWith('/')) parseTcpHost(h, Boolean(o.tls || o.tlsVerify));
  }
  return o;
}

/** `tcp://host:port` (port 2376 with TLS, 2375 without, as dockerd); other schemes are refused. */
export function parseTcpHost(h: string, tls: boolean): { host: string; port: number } {
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]*)(?::(\d+))?\/?$/.exec(h);
  if (!m) {
    if (/^[a-z]+:\/\//.test(h) && !h.startsWith('tcp://')) throw new InvalidParameterError(`Invalid bind address format: ${h}`);
    throw new InvalidParameterError(`invalid bind address (${h})`);
  }
  const host = (m[1] || '127.0.0.1').replace(/^\[|\]$/g, '');
  const port = m[2] ? Number(m[2]) : tls ? 2376 : 2375;
  if (port <= 0 || port > 65535) throw new InvalidParameterError(`invalid bind address (${h})`);
  return { host, port };
}

/** `1234`, `512k`, `64m`, `64g` (binary units) as bytes. */
export function parseByteSize(v: string): number {
  const m = /^(\d+)([kmgt]?)b?$/i.exec(v.trim());
  if (!m) throw new InvalidParameterError(`invalid size: ${v}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(m[1]) * mult;
}

function positiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1) throw new InvalidParameterError(`invalid value "${v}" for flag ${flag}: must be a positive integer`);
  return n;
}

export function socketPath(host: string): string {
  return host.startsWith('unix://') ? host.slice('unix://'.length) : host;
}
