import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { EngineError, InvalidParameterError, NotFoundError, SystemError, errorMessage } from '../common/errors.js';
import { randomId, sha256Digest, shortId, type ChainId, type ImageId } from '../common/ids.js';
import type { Logger } from '../common/log.js';
import { familiarString, formatReference, parseReference, withDefaultTag } from '../common/reference.js';
import type { Db } from '../store/index.js';
import { hostArchitecture, type ImageConfig, type ImageRunConfig, type ImageService } from '../image/index.js';
import type { LayerStore } from '../layer/index.js';
import { BuildCache } from './build-cache.js';
import type { BuildContainerPort, BuildPullPort, PullProgress } from './build-port.js';
import { BuildContext, resolveInRoot } from './context/build-context.js';
import { parseChmod, resolveOwner, type Owner } from './file-copy.js';
import { applyCopyItems, checksumItems, resolveCopyItems, type CopySpec } from './copy-sources.js';
import { dockerRunConfig, envLookup, expandPorts, goDuration, goQuoteList, setEnv } from './run-config.js';
import { ScratchRootfs } from './scratch-rootfs.js';
import {
  DockerfileSyntaxError, expandInstruction, parseDockerfileText, toInstruction, parseDockerfile,
  type Dockerfile, type Instruction, type InstructionOf, type Stage, type CommandForm, type HealthcheckSpec,
} from './parser/index.js';

export interface BuildMessage extends PullProgress {
  stream?: string;
  aux?: { ID: string };
  error?: string;
  errorDetail?: { message: string; code?: number };
}

export interface BuildRequest {
  context: Readable;
  /** Path of the Dockerfile inside the context. */
  dockerfile: string;
  tags: string[];
  buildArgs: Record<string, string | null>;
  labels: Record<string, string>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  rm: boolean;
  forceRm: boolean;
  quiet: boolean;
  networkMode?: string;
  extraHosts: string[];
  shmSize?: number;
  platform?: string;
  /** Credentials by registry address (`X-Registry-Config`), for images the build pulls. */
  authConfigs?: Record<string, unknown>;
  signal?: AbortSignal;
}

export interface BuilderOptions {
  images: ImageService;
  layers: LayerStore;
  db: Db;
  containers: BuildContainerPort;
  /** Pulls missing `FROM` / `COPY --from` images; without it they must be local. */
  puller?: BuildPullPort;
  /** Scratch space for contexts and temporary mounts. */
  tmpRoot: string;
  logger: Logger;
}

/** A build cache entry as `GET /system/df` reports it (Docker's BuildCache record). */
export interface BuildCacheRecord {
  ID: string;
  Parent: string;
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

/** A RUN step that exited non-zero: its message and code are Docker's. */
export class BuildStepError extends EngineError {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_SHELL = ['/bin/sh', '-c'];
const PLATFORM_ARGS = new Set(['BUILDPLATFORM', 'BUILDOS', 'BUILDARCH', 'BUILDVARIANT', 'TARGETPLATFORM', 'TARGETOS', 'TARGETARCH', 'TARGETVARIANT']);
const PREDEFINED_ARGS = new Set([
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
]);

interface StageState {
  config: ImageConfig;
  topLayer: ChainId | null;
  /** Declared ARGs of this stage with their values. */
  args: Map<string, string | undefined>;
  /** CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
}

function stateId(s: StageState): ImageId {
  return sha256Digest(JSON.stringify(s.config)) as string as ImageId;
}

/** The host platform in Docker's words. */
export function hostPlatform(): string {
  return `linux/${hostArchitecture()}`;
}

/** Checks what must be refused before the build's stream starts (tags, platform). */
export function checkBuildRequest(req: Pick<BuildRequest, 'tags' | 'platform'>): string[] {
  const tags: string[] = [];
  for (const t of req.tags) {
    try {
      tags.push(formatReference(withDefaultTag(parseReference(t))));
    } catch (err) {
      throw new InvalidParameterError(`invalid reference format: ${errorMessage(err)}`);
    }
  }
  if (req.platform) checkPlatform(req.platform);
  return tags;
}

function checkPlatform(p: string): void {
  const want = p.toLowerCase().split('/');
  const host = hostPlatform().split('/');
  if (want[0] !== host[0] || (want[1] !== undefined && want[1] !== host[1])) {
    throw new InvalidParameterError(`"${p}" is not supported: this builder builds for the host platform (${hostPlatform()}) only`);
  }
}

/** The classic builder: Dockerfile steps into images, with the layer cache. */
export class Builder {
  readonly cache: BuildCache;
  private readonly scratch: ScratchRootfs;
  /** Builds in progress. */
  private active = 0;
  /** Settles once the step containers of interrupted builds are gone (start-up, in the background). */
  leftoversRemoved: Promise<void> = Promise.resolve();

  constructor(private readonly o: BuilderOptions) {
    this.cache = new BuildCache(o.db);
    // An image removal that deletes a layer makes the cache entries standing on it useless.
    o.layers.onReleased((chainId) => this.cache.removeByLayer(chainId));
    this.scratch = new ScratchRootfs(o.layers, join(dirname(o.tmpRoot), 'scratch-layers'));
  }

  /** Removes leftovers of builds interrupted by a daemon stop. */
  async sweep(): Promise<void> {
    // Step containers of interrupted builds go in the background: start-up does not wait on them.
    this.leftoversRemoved = this.o.containers.removeLeftovers().then(
      (removed) => { if (removed) this.o.logger.info('removed build step containers left by an interrupted build', { removed }); },
      (err: unknown) => this.o.logger.warn('removing leftover build step containers failed', { err: errorMessage(err) }),
    );
    await this.scratch.sweep();
    this.cache.removeStale();
    await rm(this.o.tmpRoot, { recursive: true, force: true });
    await mkdir(this.o.tmpRoot, { recursive: true, mode: 0o700 });
  }

  /**
   * Drops the build cache (`builder prune`) and the layers only it kept: layers no image stands
   * on are released from the top down. Returns the entries removed and the bytes freed.
   */
  async prune(): Promise<{ deleted: string[]; reclaimed: number }> {
    const tops = this.cache.tops();
    const deleted = this.cache.clear();
    let reclaimed = 0;
    // A running build may stand on layers only the cache named: keep layers until none runs.
    if (this.active > 0) return { deleted, reclaimed };
    for (const top of tops) {
      let cur: ChainId | null = top;
      while (cur) {
        if (this.o.images.store.countUsingLayer(cur) > 0) break;
        const layer = this.o.layers.find(cur);
        if (!layer) break;
        const parent: ChainId | null = layer.parent;
        if (!(await this.o.layers.release(cur))) break;
        reclaimed += layer.size;
        cur = parent;
      }
    }
    return { deleted, reclaimed };
  }

  /**
   * The cache as `system df` reports it. Each layer the cache alone keeps (what `builder prune`
   * frees) counts once, on the entry that made it (or the first entry standing on it); entries
   * on layers images also hold are Shared. Entries are InUse while a build runs.
   */
  diskUsage(): BuildCacheRecord[] {
    // Entries whose layer went with an image (rmi) are dead: a build drops them on its next look.
    const rows = this.cache.rows().filter((r) => r.topLayer === null || this.o.layers.find(r.topLayer) !== undefined);
    const inUse = this.active > 0;
    const byState = new Map<string, string>();
    for (const r of rows) byState.set(sha256Digest(r.config), r.key);
    const counted = new Set<ChainId>();
    const imageHeld = (c: ChainId): boolean => this.o.images.store.countUsingLayer(c) > 0;
    const heldByImages = new Set<ChainId>();
    for (const rec of this.o.images.store.list()) {
      for (let c: ChainId | null = rec.topLayer; c !== null && !heldByImages.has(c); c = this.o.layers.find(c)?.parent ?? null) heldByImages.add(c);
    }
    // First pass: an entry owns its top layer when its step made that layer (a metadata step
    // stands on its parent's layer and adds nothing), whatever order the rows come in.
    const rowByState = new Map<string, (typeof rows)[number]>(rows.map((r) => [sha256Digest(r.config), r]));
    const parentTop = (r: (typeof rows)[number]): ChainId | null | undefined => {
      if (!r.parentState) return undefined;
      const p = rowByState.get(r.parentState);
      return p ? p.topLayer : this.o.images.store.find(r.parentState)?.topLayer;
    };
    const sizes = new Map<string, number>();
    for (const r of rows) {
      let size = 0;
      if (r.topLayer && parentTop(r) !== r.topLayer && !counted.has(r.topLayer)) {
        counted.add(r.topLayer);
        size = this.o.layers.find(r.topLayer)?.size ?? 0;
      }
      sizes.set(r.key, size);
    }
    // Then the layers below that only the cache keeps (a base image removed since).
    for (const r of rows) {
      for (let c: ChainId | null = r.topLayer ? this.o.layers.find(r.topLayer)?.parent ?? null : null; c !== null; ) {
        if (heldByImages.has(c) || imageHeld(c)) break;
        const l = this.o.layers.find(c);
        if (!l) break;
        if (!counted.has(c)) {
          counted.add(c);
          sizes.set(r.key, (sizes.get(r.key) ?? 0) + l.size);
        }
        c = l.parent;
      }
    }
    return rows.map((r) => {
      let description = '';
      try {
        const history = (JSON.parse(r.config) as ImageConfig).history ?? [];
        description = history.at(-1)?.created_by ?? '';
      } catch { /* none */ }
      return {
        ID: r.key,
        Parent: r.parentState ? byState.get(r.parentState) ?? '' : '',
        Type: 'regular',
        Description: description,
        InUse: inUse,
        Shared: r.topLayer !== null && heldByImages.has(r.topLayer),
        Size: sizes.get(r.key) ?? 0,
        CreatedAt: r.createdAt,
        LastUsedAt: r.lastUsedAt ?? null,
        UsageCount: r.usageCount,
      };
    });
  }

  /** Runs a build; messages go to `out`; resolves with the image id, or rejects (reported in-band). */
  async build(req: BuildRequest, out: (m: BuildMessage) => void): Promise<ImageId> {
    const tags = checkBuildRequest(req);
    const run = new BuildRun(this.o, this.cache, this.scratch, req, out, tags);
    this.active++;
    try {
      return await run.execute();
    } catch (err) {
      // A quiet build shows what it held back when it fails, as Docker's does.
      if (req.quiet && run.heldBack) out({ stream: run.heldBack });
      throw err;
    } finally {
      this.active--;
      await run.cleanup();
    }
  }
}

class BuildRun {
  private readonly dir: string;
  private ctx: BuildContext | undefined;
  private df!: Dockerfile;
  private step = 0;
  private total = 0;
  private readonly stageStates = new Map<number, StageState>();
  private readonly metaArgs = new Map<string, string | undefined>();
  private readonly usedArgs = new Set<string>();
  /** Images this build registered only to run steps on: removed at the end. */
  private readonly intermediates = new Set<string>();
  private readonly file: string;

  constructor(
    private readonly o: BuilderOptions,
    private readonly cache: BuildCache,
    private readonly scratch: ScratchRootfs,
    private readonly req: BuildRequest,
    private readonly out: (m: BuildMessage) => void,
    private readonly tags: string[],
  ) {
    this.dir = join(o.tmpRoot, `ctx-${randomId().slice(0, 16)}`);
    this.file = posix.basename(req.dockerfile || 'Dockerfile');
  }

  /** Output a quiet build held back (shown only if it fails). */
  heldBack = '';

  private say(text: string): void {
    if (!this.req.quiet) this.out({ stream: text });
    else if (this.heldBack.length < 1 << 20) this.heldBack += text;
  }

  async cleanup(): Promise<void> {
    for (const id of this.intermediates) {
      await this.o.images.remove(id, { force: false, prune: false }).catch(() => undefined);
    }
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }

  async execute(): Promise<ImageId> {
    const dockerfileName = posix.normalize(this.req.dockerfile || 'Dockerfile').replace(/^\/+/, '');
    this.ctx = await BuildContext.fromTar(this.req.context, this.dir);
    const text = await this.ctx.readDockerfile(dockerfileName);
    await this.ctx.applyIgnore(dockerfileName);
    // A Dockerfile the client added under a generated name is not part of the context.
    if (/^\.dockerfile\.[0-9a-f]+$/.test(dockerfileName)) await rm(join(this.dir, dockerfileName), { force: true });
    this.df = parseDockerfileText(text, this.file);
    for (const w of this.df.warnings) this.say(`[Warning] ${w}\n`);

    // The automatic platform args, as BuildKit defines them (the host platform only).
    const arch = hostArchitecture();
    for (const [k, v] of Object.entries({
      BUILDPLATFORM: hostPlatform(), BUILDOS: 'linux', BUILDARCH: arch, BUILDVARIANT: '',
      TARGETPLATFORM: hostPlatform(), TARGETOS: 'linux', TARGETARCH: arch, TARGETVARIANT: '',
    })) this.metaArgs.set(k, v);
    // Meta ARGs (before the first FROM) serve the FROM lines.
    for (const a of this.df.metaArgs) {
      const expanded = expandInstruction(a, (n) => this.metaArgs.get(n), this.df.escape, this.file);
      for (const { name, value } of expanded.args) {
        const given = this.req.buildArgs[name];
        this.metaArgs.set(name, given !== undefined && given !== null ? given : value);
        if (given !== undefined) this.usedArgs.add(name);
      }
    }

    const targetIdx = this.targetIndex();
    const needed = this.neededStages(targetIdx);
    if (Object.keys(this.req.labels).length) {
      // Labels given to the build become a final LABEL step, as the classic builder does.
      const line = `LABEL ${Object.entries(this.req.labels).map(([k, v]) => `${JSON.stringify(k)}='${v}' `).join('')}`;
      const node = parseDockerfile(line, this.file).nodes[0]!;
      const target = this.df.stages[targetIdx]!;
      node.startLine = target.instructions.at(-1)?.node.endLine ?? target.from.node.endLine;
      target.instructions.push(toInstruction(node, this.file, this.df.escape));
    }
    this.total = [...needed].reduce((n, i) => n + 1 + this.df.stages[i]!.instructions.length, 0);

    let final: StageState | undefined;
    for (const idx of [...needed].sort((a, b) => a - b)) {
      final = await this.buildStage(this.df.stages[idx]!);
      this.stageStates.set(idx, final);
    }
    const state = final!;
    const id = await this.register(state, { keep: true });

    const unused = Object.keys(this.req.buildArgs).filter((k) => !this.usedArgs.has(k) && !PREDEFINED_ARGS.has(k) && !PLATFORM_ARGS.has(k)).sort();
    if (unused.length) this.say(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    this.out({ aux: { ID: id } });
    if (this.req.quiet) this.out({ stream: `${id}\n` });
    this.say(`Successfully built ${shortId(id)}\n`);
    for (const t of this.tags) {
      this.o.images.tag(id, t);
      this.say(`Successfully tagged ${familiarString(parseReference(t))}\n`);
    }
    return id;
  }

  private targetIndex(): number {
    if (!this.req.target) return this.df.stages.length - 1;
    const want = this.req.target.toLowerCase();
    const idx = this.df.stages.findIndex((s) => s.name === want);
    if (idx < 0) throw new InvalidParameterError(`failed to reach build target ${this.req.target} in Dockerfile`);
    return idx;
  }

  /** The target and the stages it depends on (FROM <stage>, COPY --from=<stage|index>). */
  private neededStages(target: number): Set<number> {
    const need = new Set<number>();
    const visit = (i: number): void => {
      if (need.has(i)) return;
      need.add(i);
      const stage = this.df.stages[i]!;
      const fromRef = this.expandFrom(stage).image.toLowerCase();
      const dep = this.df.stages.findIndex((s, j) => j < i && s.name === fromRef);
      if (dep >= 0) visit(dep);
      for (const inst of stage.instructions) {
        if (inst.kind !== 'copy' || inst.from === undefined) continue;
        const ref = inst.from.toLowerCase();
        const byName = this.df.stages.findIndex((s, j) => j < i && s.name === ref);
        if (byName >= 0) { visit(byName); continue; }
        if (/^\d+$/.test(ref) && Number(ref) < i) visit(Number(ref));
      }
    };
    visit(target);
    return need;
  }

  private expandFrom(stage: Stage): InstructionOf<'from'> {
    return expandInstruction(stage.from, (n) => {
      if (this.metaArgs.has(n)) this.usedArgs.add(n);
      return this.metaArgs.get(n);
    }, this.df.escape, this.file);
  }

  private header(inst: Instruction): void {
    this.step++;
    this.say(`Step ${this.step}/${this.total} : ${inst.node.original}\n`);
  }

  private fail(inst: Instruction, err: unknown): never {
    if (err instanceof DockerfileSyntaxError || err instanceof BuildStepError) throw err;
    const msg = errorMessage(err);
    if (err instanceof EngineError) {
      const Cls = err.constructor as new (m: string, o?: { cause?: unknown }) => EngineError;
      throw new Cls(`${inst.kind === 'copy' || inst.kind === 'add' ? `${inst.kind.toUpperCase()} failed: ` : ''}${msg}`, { cause: err });
    }
    throw new SystemError(msg, { cause: err });
  }

  private async buildStage(stage: Stage): Promise<StageState> {
    const from = this.expandFrom(stage);
    this.header(stage.from);
    if (from.platform) checkPlatform(from.platform);
    const state = await this.baseState(from.image);
    const baseId = from.image.toLowerCase() === 'scratch' ? '' : shortId(stateId(state));
    this.say(` ---> ${baseId}\n`);
    const triggers = state.config.config?.OnBuild ?? [];
    if (state.config.config) state.config.config.OnBuild = null;
    if (triggers.length) {
      this.say(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
      for (const t of triggers) {
        let inst: Instruction;
        try {
          const node = parseDockerfile(t, this.file).nodes[0]!;
          node.startLine = stage.from.node.startLine;
          inst = toInstruction(node, this.file, this.df.escape);
        } catch (err) {
          throw new InvalidParameterError(`failed to process ONBUILD trigger "${t}": ${errorMessage(err)}`);
        }
        if (inst.kind === 'onbuild' || inst.kind === 'from' || inst.kind === 'maintainer') {
          throw new InvalidParameterError(`${inst.kind.toUpperCase()} isn't allowed as an ONBUILD trigger`);
        }
        try {
          await this.dispatch(state, inst);
        } catch (err) {
          this.fail(inst, err);
        }
      }
    }
    for (const inst of stage.instructions) {
      this.header(inst);
      try {
        await this.dispatch(state, inst);
      } catch (err) {
        this.fail(inst, err);
      }
    }
    return state;
  }

  private async baseState(image: string): Promise<StageState> {
    const name = image.toLowerCase();
    const base: StageState = {
      config: { architecture: hostArchitecture(), os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] },
      topLayer: null,
      args: new Map(),
      cmdSet: false,
    };
    if (name === 'scratch') {
      base.config.config = { Env: [`PATH=${DEFAULT_PATH}`] };
      return base;
    }
    const stageIdx = this.df.stages.findIndex((s) => s.name === name);
    if (stageIdx >= 0 && this.stageStates.has(stageIdx)) {
      const prev = this.stageStates.get(stageIdx)!;
      return { ...base, config: structuredClone(prev.config), topLayer: prev.topLayer };
    }
    const rec = await this.localOrPulled(image, this.req.pull);
    if (!rec) {
      let shown = image;
      try { shown = familiarString(withDefaultTag(parseReference(image))); } catch { /* as written */ }
      throw new NotFoundError(`pull access denied for ${shown.replace(/:[^:/]*$/, '')}, repository does not exist or may require 'docker login': No such image: ${shown}`);
    }
    const config = structuredClone(rec.config) as ImageConfig;
    const run: ImageRunConfig = config.config ?? {};
    if (!(run.Env ?? []).some((e) => e.startsWith('PATH='))) run.Env = [`PATH=${DEFAULT_PATH}`, ...(run.Env ?? [])];
    run.Image = rec.id;
    config.config = run;
    delete config.container_config;
    delete config.container;
    return { ...base, config, topLayer: rec.topLayer };
  }

  /**
   * The image `name` names, pulled first when it is missing (or always, with `--pull`), the
   * pull's progress going to the build's stream as the classic builder shows it.
   */
  private async localOrPulled(name: string, always: boolean): Promise<ReturnType<ImageService['store']['findByName']>> {
    const local = this.o.images.store.findByName(name);
    if (!this.o.puller || (local && !always)) return local;
    // An image id (or a digest-less local name the registry cannot know) is never pulled.
    if (local && (local.id === name || local.id === `sha256:${name}`)) return local;
    try {
      parseReference(name);
    } catch {
      return local;
    }
    const out = (m: PullProgress): void => {
      if (!this.req.quiet) this.out(m);
    };
    await this.o.puller.pull(name, {
      out, authConfigs: this.req.authConfigs ?? {},
      ...(this.req.platform ? { platform: this.req.platform } : {}),
      ...(this.req.signal ? { signal: this.req.signal } : {}),
    });
    return this.o.images.store.findByName(name);
  }

  private lookup(state: StageState): (name: string) => string | undefined {
    return envLookup(state.config.config?.Env ?? [], state.args);
  }

  private shell(state: StageState): string[] {
    return state.config.config?.Shell ?? DEFAULT_SHELL;
  }

  /** Build args declared in the stage with a value: RUN's environment, and its history prefix. */
  private runArgs(state: StageState): string[] {
    const env = state.config.config?.Env ?? [];
    const out: string[] = [];
    for (const [k, v] of state.args) {
      if (v === undefined) continue;
      if (env.some((e) => e.startsWith(`${k}=`))) continue;
      out.push(`${k}=${v}`);
    }
    for (const k of PREDEFINED_ARGS) {
      const v = this.req.buildArgs[k];
      if (v !== undefined && v !== null && !state.args.has(k)) out.push(`${k}=${v}`);
    }
    return out.sort();
  }

  private nop(state: StageState, text: string, double = true): string {
    return `${this.shell(state).join(' ')} #(nop) ${double ? ' ' : ''}${text}`;
  }

  private async dispatch(state: StageState, raw: Instruction): Promise<void> {
    const inst = expandInstruction(raw, this.lookup(state), this.df.escape, this.file);
    const cfg = (): ImageRunConfig => state.config.config!;
    switch (inst.kind) {
      case 'env': {
        const text = `ENV ${inst.pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`;
        await this.commitMeta(state, this.nop(state, text), () => {
          let env = cfg().Env ?? [];
          for (const [k, v] of inst.pairs) env = setEnv(env, k, v);
          cfg().Env = env;
        });
        return;
      }
      case 'label': {
        const text = `LABEL ${inst.pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`;
        await this.commitMeta(state, this.nop(state, text), () => {
          const labels = { ...(cfg().Labels ?? {}) };
          for (const [k, v] of inst.pairs) labels[k] = v;
          cfg().Labels = labels;
        });
        return;
      }
      case 'arg': {
        for (const { name, value } of inst.args) {
          const given = this.req.buildArgs[name];
          let v = value;
          if (given !== undefined && given !== null) v = given;
          else if (v === undefined && this.metaArgs.has(name)) v = this.metaArgs.get(name);
          state.args.set(name, v);
          this.usedArgs.add(name);
        }
        const text = `ARG ${inst.args.map((a) => (a.value !== undefined ? `${a.name}=${a.value}` : a.name)).join(' ')}`;
        await this.commitMeta(state, this.nop(state, text), () => undefined);
        return;
      }
      case 'cmd': {
        const cmd = 'exec' in inst.command ? inst.command.exec : [...this.shell(state), inst.command.shell];
        await this.commitMeta(state, this.nop(state, `CMD ${goQuoteList(cmd)}`), () => { cfg().Cmd = cmd; });
        state.cmdSet = true;
        return;
      }
      case 'entrypoint': {
        const ep = 'exec' in inst.command ? inst.command.exec : inst.command.shell === '' ? null : [...this.shell(state), inst.command.shell];
        await this.commitMeta(state, this.nop(state, `ENTRYPOINT ${goQuoteList(ep ?? [])}`), () => {
          cfg().Entrypoint = ep;
          if (!state.cmdSet) cfg().Cmd = null;
        });
        return;
      }
      case 'shell':
        // The history entry is written with the new shell already in place.
        await this.commitMeta(state, `${inst.shell.join(' ')} #(nop)  SHELL [${inst.shell.join(' ')}]`, () => { cfg().Shell = inst.shell; });
        return;
      case 'expose': {
        const ports = expandPorts(inst.ports);
        await this.commitMeta(state, this.nop(state, `EXPOSE ${[...inst.ports].sort().join(' ')}`), () => {
          const exposed = { ...(cfg().ExposedPorts ?? {}) };
          for (const p of ports) exposed[p] = {};
          cfg().ExposedPorts = exposed;
        });
        return;
      }
      case 'volume':
        await this.commitMeta(state, this.nop(state, `VOLUME [${inst.paths.join(' ')}]`), () => {
          const vols = { ...(cfg().Volumes ?? {}) };
          for (const p of inst.paths) vols[p] = {};
          cfg().Volumes = vols;
        });
        return;
      case 'user':
        await this.commitMeta(state, this.nop(state, `USER ${inst.user}`), () => { cfg().User = inst.user; });
        return;
      case 'workdir': {
        const cur = cfg().WorkingDir || '/';
        const dir = posix.normalize(inst.path.startsWith('/') ? inst.path : posix.join(cur, inst.path));
        const clean = dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
        // Like the classic builder, WORKDIR creates the directory (root-owned) in a layer of its own.
        const createdBy = this.nop(state, `WORKDIR ${clean}`, false);
        const key = this.cacheKey(state, createdBy);
        if (this.tryCache(state, key)) return;
        const { layer } = await this.scratch.with(state.topLayer, async (root) => {
          const { path } = await resolveInRoot(root, clean, { followLast: true });
          await mkdir(path, { recursive: true, mode: 0o755 });
        }, { commit: true });
        cfg().WorkingDir = clean;
        await this.commitLayer(state, createdBy, layer!, key);
        return;
      }
      case 'stopsignal':
        await this.commitMeta(state, this.nop(state, `STOPSIGNAL ${inst.signal}`), () => { cfg().StopSignal = inst.signal; });
        return;
      case 'healthcheck': {
        const h = inst.health;
        const text = h.Test[0] === 'NONE'
          ? 'HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" \'\\x00\'}'
          : `HEALTHCHECK &{${goQuoteList(h.Test)} "${goDuration(h.Interval)}" "${goDuration(h.Timeout)}" "${goDuration(h.StartPeriod)}" "${goDuration(h.StartInterval)}" '\\x${(h.Retries ?? 0).toString(16).padStart(2, '0')}'}`;
        await this.commitMeta(state, this.nop(state, text), () => {
          const spec: HealthcheckSpec = { Test: h.Test };
          if (h.Interval) spec.Interval = h.Interval;
          if (h.Timeout) spec.Timeout = h.Timeout;
          if (h.StartPeriod) spec.StartPeriod = h.StartPeriod;
          if (h.StartInterval) spec.StartInterval = h.StartInterval;
          if (h.Retries) spec.Retries = h.Retries;
          cfg().Healthcheck = spec;
        });
        return;
      }
      case 'onbuild':
        await this.commitMeta(state, this.nop(state, `ONBUILD ${inst.trigger}`), () => {
          cfg().OnBuild = [...(cfg().OnBuild ?? []), inst.trigger];
        });
        return;
      case 'maintainer':
        await this.commitMeta(state, this.nop(state, `MAINTAINER ${inst.maintainer}`), () => { state.config.author = inst.maintainer; });
        return;
      case 'run':
        await this.runStep(state, inst);
        return;
      case 'copy':
      case 'add':
        await this.copyStep(state, inst);
        return;
      case 'from':
        throw new InvalidParameterError('unexpected FROM');
    }
  }

  /** The state each cache key's step ran on (the entry's parent in `system df`). */
  private readonly keyParents = new Map<string, string>();

  private cacheKey(state: StageState, createdBy: string, content = ''): string {
    const parent = stateId(state);
    const key = createHash('sha256').update(JSON.stringify([parent, createdBy, content])).digest('hex');
    this.keyParents.set(key, parent);
    return key;
  }

  /** Takes a cache hit when there is one (and its layers still exist). */
  private tryCache(state: StageState, key: string): boolean {
    if (this.req.noCache) return false;
    const hit = this.cache.find(key);
    if (!hit) return false;
    if (hit.topLayer && !this.o.layers.find(hit.topLayer)) {
      this.cache.remove(key);
      return false;
    }
    state.config = JSON.parse(hit.config) as ImageConfig;
    state.topLayer = hit.topLayer;
    this.cache.touch(key);
    this.say(' ---> Using cache\n');
    this.say(` ---> ${shortId(stateId(state))}\n`);
    return true;
  }

  private record(state: StageState, key: string): void {
    const c = state.config;
    const ordered: ImageConfig = { architecture: c.architecture, ...(c.author ? { author: c.author } : {}), config: dockerRunConfig(c.config ?? {}), rootfs: c.rootfs } as ImageConfig;
    if (c.created) ordered.created = c.created;
    ordered.history = c.history ?? [];
    ordered.os = c.os;
    if (c.variant) ordered.variant = c.variant;
    delete (ordered as Partial<ImageConfig>).rootfs;
    ordered.rootfs = c.rootfs;
    state.config = ordered;
    this.cache.put(key, { config: JSON.stringify(state.config), topLayer: state.topLayer }, this.keyParents.get(key));
    this.say(` ---> ${shortId(stateId(state))}\n`);
  }

  private async commitMeta(state: StageState, createdBy: string, mutate: () => void): Promise<void> {
    const key = this.cacheKey(state, createdBy);
    if (this.tryCache(state, key)) return;
    const parent = stateId(state);
    mutate();
    const created = new Date().toISOString();
    state.config.created = created;
    state.config.config!.Image = parent;
    state.config.history = [...(state.config.history ?? []), { created, created_by: createdBy, empty_layer: true }];
    this.record(state, key);
  }

  private async commitLayer(state: StageState, createdBy: string, result: { chainId: ChainId; diffId: string }, key: string): Promise<void> {
    const parent = stateId(state);
    const created = new Date().toISOString();
    state.config.created = created;
    state.config.config!.Image = parent;
    state.config.rootfs = { type: 'layers', diff_ids: [...state.config.rootfs.diff_ids, result.diffId] };
    state.config.history = [...(state.config.history ?? []), { created, created_by: createdBy }];
    state.topLayer = result.chainId;
    this.record(state, key);
  }

  /** Makes the state's image exist (for a container to start from); returns its id. */
  private async register(state: StageState, opts: { keep: boolean }): Promise<ImageId> {
    const json = JSON.stringify(state.config);
    const id = sha256Digest(json) as string as ImageId;
    const existed = this.o.images.store.find(id) !== undefined;
    await this.o.images.registerConfig(json, state.topLayer);
    if (opts.keep) this.intermediates.delete(id);
    else if (!existed) this.intermediates.add(id);
    return id;
  }

  private async runStep(state: StageState, inst: InstructionOf<'run'>): Promise<void> {
    for (const m of inst.mounts) {
      // A cache mount only speeds builds up, so running without it is correct; others are not.
      const type = /(?:^|,)type=([^,]+)/.exec(m)?.[1] ?? 'bind';
      if (type !== 'cache') throw new InvalidParameterError(`RUN --mount=type=${type} is not supported by this builder`);
    }
    const shell = this.shell(state);
    let argv: string[];
    const cmd: CommandForm = inst.command;
    let script: { path: string; content: string } | undefined;
    if ('exec' in cmd) argv = cmd.exec;
    else if (inst.heredocs.length === 1 && cmd.shell.trim().replace(/^<<-?["']?/, '').replace(/["']$/, '') === inst.heredocs[0]!.name) {
      const content = inst.heredocs[0]!.content;
      if (content.startsWith('#!')) {
        // A script with its own interpreter runs as a file, as BuildKit does; the file is
        // removed again before the step's changes are taken.
        script = { path: `/.berth-heredoc-${randomId().slice(0, 12)}`, content };
        argv = [script.path];
      } else {
        argv = [...shell, content];
      }
    } else if (inst.heredocs.length) {
      argv = [...shell, `${cmd.shell}\n${inst.heredocs.map((h) => `${h.content}${h.name}\n`).join('')}`];
    } else argv = [...shell, cmd.shell];
    const args = this.runArgs(state);
    const shown = script ? [...shell, script.content] : argv;
    const createdBy = `${args.length ? `|${args.length} ${args.join(' ')} ` : ''}${shown.join(' ')}`;
    const key = this.cacheKey(state, createdBy, JSON.stringify([inst.network ?? '']));
    if (this.tryCache(state, key)) return;
    const image = await this.register(state, { keep: false });
    const c = cfg(state);
    const networkMode = inst.network ?? this.req.networkMode ?? 'default';
    const id = await this.o.containers.create({
      image,
      cmd: argv,
      env: [...(c.Env ?? []), ...args],
      user: c.User ?? '',
      workingDir: c.WorkingDir ?? '',
      networkMode: networkMode === 'default' && this.req.networkMode ? this.req.networkMode : networkMode,
      extraHosts: this.req.extraHosts,
      ...(this.req.shmSize ? { shmSize: this.req.shmSize } : {}),
    });
    this.say(` ---> Running in ${shortId(id)}\n`);
    let removed = false;
    const removeContainer = async (announce: boolean): Promise<void> => {
      if (removed) return;
      removed = true;
      await this.o.containers.remove(id);
      if (announce) this.say(`Removing intermediate container ${shortId(id)}\n`);
    };
    const inRw = async (fn: (root: string) => Promise<void>): Promise<void> => {
      const root = await this.o.layers.mountRw(id);
      try { await fn(root); } finally { await this.o.layers.unmountRw(id); }
    };
    try {
      if (script) {
        const s = script;
        await inRw((root) => writeFile(join(root, s.path), s.content, { mode: 0o755 }));
      }
      const code = await this.o.containers.run(id, (data) => this.say(data.toString('utf8')), this.req.signal);
      if (script) {
        const s = script;
        await inRw((root) => rm(join(root, s.path), { force: true }));
      }
      if (code !== 0) {
        if (this.req.rm || this.req.forceRm) await removeContainer(false).catch(() => undefined);
        throw new BuildStepError(`The command '${shown.join(' ')}' returned a non-zero code: ${code}`, code);
      }
      const tar = await this.o.layers.diffRw(id);
      const reg = await this.o.layers.register(tar, state.topLayer);
      if (this.req.rm || this.req.forceRm) await removeContainer(true);
      await this.commitLayer(state, createdBy, reg, key);
    } catch (err) {
      if (this.req.forceRm || this.req.rm) await removeContainer(false).catch(() => undefined);
      throw err;
    }
  }

  private async copyStep(state: StageState, inst: InstructionOf<'copy' | 'add'>): Promise<void> {
    const upper = inst.kind.toUpperCase();
    for (const [flag] of inst.node.flags) {
      // Flags that would change what is copied are refused rather than ignored.
      if (flag === 'parents' || flag === 'exclude' || flag === 'keep-git-dir') {
        throw new InvalidParameterError(`${upper} --${flag} is not supported by this builder`);
      }
    }
    const workdir = cfg(state).WorkingDir || '/';
    const dest = inst.dest.startsWith('/')
      ? inst.dest
      : posix.join(workdir, inst.dest) + (inst.dest.endsWith('/') || inst.dest === '.' ? '/' : '');
    const mode = inst.chmod !== undefined ? parseChmod(inst.chmod) : undefined;

    // Where the sources come from: the context, or the layers of another stage or image.
    let source: { top: ChainId | null } | undefined;
    if (inst.kind === 'copy' && inst.from !== undefined) {
      const ref = inst.from.toLowerCase();
      let idx = this.df.stages.findIndex((s) => s.name === ref);
      if (idx < 0 && /^\d+$/.test(ref)) idx = Number(ref);
      const st = this.stageStates.get(idx);
      if (idx >= 0 && st) {
        source = { top: st.topLayer };
      } else if (idx >= 0 && idx < this.df.stages.length) {
        throw new InvalidParameterError(`invalid from flag value ${inst.from}: refers to current build stage`);
      } else {
        const rec = await this.localOrPulled(inst.from, false);
        if (!rec) throw new NotFoundError(`invalid from flag value ${inst.from}: No such image: ${inst.from}`);
        source = { top: rec.topLayer };
      }
    }
    const spec: CopySpec = {
      kind: inst.kind, sources: inst.sources, heredocs: inst.heredocs, dest,
      fromLayers: source !== undefined,
      ...(inst.kind === 'add' && inst.checksum !== undefined ? { checksum: inst.checksum } : {}),
    };
    const inSources = <T>(fn: (root: string) => Promise<T>): Promise<T> => (source
      ? this.scratch.with(source.top, fn, { commit: false }).then((r) => r.value)
      : fn(this.ctx!.root));

    // The cache key needs the sources' checksum, taken before anything is written.
    const { hash, kind } = await inSources(async (root) => checksumItems(await resolveCopyItems(spec, root)));
    const flags = `${inst.from !== undefined ? `--from=${inst.from} ` : ''}${inst.chown !== undefined ? `--chown=${inst.chown} ` : ''}${inst.chmod !== undefined ? `--chmod=${inst.chmod} ` : ''}`;
    const createdBy = this.nop(state, `${upper} ${flags}${kind}:${hash} in ${inst.dest} `, false);
    const key = this.cacheKey(state, createdBy, hash);
    if (this.tryCache(state, key)) return;

    const layer = await inSources(async (root) => {
      const items = await resolveCopyItems(spec, root);
      const { layer } = await this.scratch.with(state.topLayer, async (rootfs) => {
        const owner: Owner = inst.chown !== undefined ? await resolveOwner(inst.chown, rootfs) : { uid: 0, gid: 0 };
        await applyCopyItems(spec, items, rootfs, mode !== undefined ? { owner, mode } : { owner }, this.req.signal);
      }, { commit: true });
      return layer!;
    });
    await this.commitLayer(state, createdBy, layer, key);
  }
}

function cfg(state: StageState): ImageRunConfig {
  return state.config.config!;
}
