import type { Logger } from '../common/log.js';
import type { ImageService } from '../image/index.js';
import type { LayerStore } from '../layer/index.js';
import type { BlobStore, Db } from '../store/index.js';
import type { AuthConfig } from './auth-config.js';
import type { Digest } from '../common/ids.js';
import { BlobRecords } from './blob-records.js';
import { PullService } from './pull-service.js';
import { PushService } from './push-service.js';
import { RegistryAccess } from './registry-access.js';
import { RegistryHosts, type RegistryHostsOptions } from './registry-hosts.js';
import { SearchService } from './search-service.js';

export interface DistributionOptions extends RegistryHostsOptions {
  db: Db;
  images: ImageService;
  layers: LayerStore;
  blobs: BlobStore;
  logger: Logger;
  maxConcurrentDownloads: number;
  maxConcurrentUploads: number;
  /** Upload chunk size (bytes); blobs up to this size go in one request. */
  uploadChunkSize?: number;
}

/** Pull, push, login and search against registries. */
export class DistributionService {
  readonly hosts: RegistryHosts;
  readonly access: RegistryAccess;
  readonly pulls: PullService;
  readonly pushes: PushService;
  readonly searches: SearchService;

  constructor(o: DistributionOptions) {
    this.hosts = new RegistryHosts(o);
    this.access = new RegistryAccess(this.hosts);
    const records = new BlobRecords(o.db);
    this.pulls = new PullService({ access: this.access, images: o.images, layers: o.layers, blobs: o.blobs, records, maxConcurrentDownloads: o.maxConcurrentDownloads, logger: o.logger });
    this.pushes = new PushService({ access: this.access, images: o.images, layers: o.layers, blobs: o.blobs, records, maxConcurrentUploads: o.maxConcurrentUploads, chunkSize: o.uploadChunkSize ?? 8 << 20, logger: o.logger });
    this.searches = new SearchService(this.access);
    this.records = records;
    this.blobs = o.blobs;
    this.db = o.db;
    // Compressed blobs are kept while a layer they hold exists (a push sends them as they are).
    o.images.onEvent((e) => {
      if (e.action === 'delete') void this.collectBlobs().catch((err: unknown) => o.logger.warn('blob collection failed', { err: String(err) }));
    });
  }

  private readonly records: BlobRecords;
  private readonly blobs: BlobStore;
  private readonly db: Db;

  /** Removes kept layer blobs whose layer is gone (skipped while a pull runs; the next removal retries). */
  async collectBlobs(): Promise<number> {
    if (this.pulls.busy()) return 0;
    const rows = this.db
      .prepare('SELECT DISTINCT digest FROM layer_blobs WHERE diff_id NOT IN (SELECT diff_id FROM layers WHERE incomplete = 0)')
      .all() as Array<{ digest: string }>;
    for (const r of rows) {
      if (this.pulls.busy()) return 0;
      await this.blobs.remove(r.digest as Digest);
    }
    this.db.prepare('DELETE FROM layer_blobs WHERE diff_id NOT IN (SELECT diff_id FROM layers WHERE incomplete = 0)').run();
    return rows.length;
  }

  /** POST /auth: the credentials are accepted by the registry (throws Unauthorized otherwise). */
  async login(auth: AuthConfig, signal?: AbortSignal): Promise<void> {
    await this.access.loginSession(auth).verifyLogin(signal);
  }

  /** A SIGHUP reload: registries, mirrors and concurrency limits apply to the next requests. */
  reconfigure(o: { insecureRegistries: string[]; mirrors: string[]; maxConcurrentDownloads: number; maxConcurrentUploads: number }): void {
    this.hosts.configure(o.insecureRegistries, o.mirrors);
    this.pulls.setMaxConcurrentDownloads(o.maxConcurrentDownloads);
    this.pushes.setMaxConcurrentUploads(o.maxConcurrentUploads);
  }

  close(): void {
    this.hosts.close();
  }
}
