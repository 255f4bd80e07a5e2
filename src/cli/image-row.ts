import type { HistoryItem, ImageSummary } from '../engine-api/image-models.js';
import type { TemplateObject } from './go-template.js';
import { contextJSON, ellipsis, truncateId } from './template-format.js';
import { goRfc3339, goTimeString, humanSize, humanSizeWithPrecision, timeAgo } from './units.js';
import { parseImageReference } from './image-reference.js';

export const IMAGE_HEADERS: Record<string, string> = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT', Size: 'SIZE', Containers: 'CONTAINERS', SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE', VirtualSize: 'VIRTUAL SIZE',
};

export const DEFAULT_IMAGES_FORMAT = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
export const DEFAULT_IMAGES_DIGEST_FORMAT = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';

/** A `docker images` row (formatter.imageContext). */
export class ImageRow implements TemplateObject {
  readonly goType = '*formatter.imageContext';
  constructor(
    private readonly i: ImageSummary,
    private readonly repo: string,
    private readonly tag: string,
    private readonly digest: string,
    private readonly opts: { trunc: boolean; now?: number },
  ) {}

  ID(): string { return this.opts.trunc ? truncateId(this.i.Id) : this.i.Id; }
  Repository(): string { return this.repo; }
  Tag(): string { return this.tag; }
  Digest(): string { return this.digest; }
  CreatedSince(): string { return timeAgo(this.i.Created, this.opts.now); }
  CreatedAt(): string { return goTimeString(this.i.Created); }
  Size(): string { return humanSizeWithPrecision(this.i.Size, 3); }
  Containers(): string { return this.i.Containers === -1 || this.i.Containers === undefined ? 'N/A' : String(this.i.Containers); }
  VirtualSize(): string { return humanSize(this.i.VirtualSize ?? this.i.Size); }
  SharedSize(): string { return this.i.SharedSize === -1 || this.i.SharedSize === undefined ? 'N/A' : humanSizeWithPrecision(this.i.SharedSize, 3); }
  UniqueSize(): string {
    if (this.i.Size === -1 || this.i.SharedSize === -1 || this.i.SharedSize === undefined) return 'N/A';
    return humanSizeWithPrecision(this.i.Size - this.i.SharedSize, 3);
  }

  toJSON(): Record<string, unknown> {
    return contextJSON({
      Containers: this.Containers(), CreatedAt: this.CreatedAt(), CreatedSince: this.CreatedSince(), Digest: this.Digest(),
      ID: this.ID(), Repository: this.Repository(), SharedSize: this.SharedSize(), Size: this.Size(), Tag: this.Tag(),
      UniqueSize: this.UniqueSize(), VirtualSize: this.VirtualSize(),
    });
  }
}

function isDangling(i: ImageSummary): boolean {
  const tags = i.RepoTags ?? [];
  const digests = i.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

/** One row per repository:tag (and digest), `<none>` for dangling images, as docker lists them. */
export function imageRows(images: ImageSummary[], opts: { trunc: boolean; digests: boolean; now?: number }): ImageRow[] {
  const rows: ImageRow[] = [];
  for (const img of images) {
    if (isDangling(img)) {
      rows.push(new ImageRow(img, '<none>', '<none>', '<none>', opts));
      continue;
    }
    const repoTags = new Map<string, string[]>();
    const repoDigests = new Map<string, string[]>();
    for (const ref of img.RepoTags ?? []) {
      if (ref === '<none>:<none>') continue;
      const r = parseImageReference(ref);
      if (r.tag === undefined) continue;
      repoTags.set(r.familiarName, [...(repoTags.get(r.familiarName) ?? []), r.tag]);
    }
    for (const ref of img.RepoDigests ?? []) {
      if (ref === '<none>@<none>') continue;
      const r = parseImageReference(ref);
      if (r.digest === undefined) continue;
      repoDigests.set(r.familiarName, [...(repoDigests.get(r.familiarName) ?? []), r.digest]);
    }
    for (const [repo, tags] of repoTags) {
      let digests = repoDigests.get(repo) ?? [];
      repoDigests.delete(repo);
      if (!opts.digests) digests = [];
      for (const tag of tags) {
        if (digests.length === 0) rows.push(new ImageRow(img, repo, tag, '<none>', opts));
        else for (const d of digests) rows.push(new ImageRow(img, repo, tag, d, opts));
      }
    }
    for (const [repo, digests] of repoDigests) {
      if (opts.digests) for (const d of digests) rows.push(new ImageRow(img, repo, '<none>', d, opts));
      else rows.push(new ImageRow(img, repo, '<none>', '', opts));
    }
  }
  return rows;
}

export const HISTORY_HEADERS: Record<string, string> = {
  ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT',
};

export const DEFAULT_HISTORY_FORMAT = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';

/** A `docker history` row (image.historyContext). */
export class HistoryRow implements TemplateObject {
  readonly goType = '*image.historyContext';
  constructor(private readonly h: HistoryItem, private readonly opts: { trunc: boolean; human: boolean; now?: number }) {}

  ID(): string { return this.opts.trunc && this.h.Id !== '<missing>' ? truncateId(this.h.Id) : this.h.Id; }
  CreatedAt(): string { return goRfc3339(this.h.Created); }
  CreatedSince(): string { return this.opts.human ? timeAgo(this.h.Created, this.opts.now) : this.CreatedAt(); }
  CreatedBy(): string {
    const by = (this.h.CreatedBy ?? '').replace(/\t/g, ' ');
    return this.opts.trunc ? ellipsis(by, 45) : by;
  }
  Size(): string { return this.opts.human ? humanSizeWithPrecision(this.h.Size, 3) : String(this.h.Size); }
  Comment(): string { return this.h.Comment ?? ''; }

  toJSON(): Record<string, unknown> {
    return contextJSON({
      Comment: this.Comment(), CreatedAt: this.CreatedAt(), CreatedBy: this.CreatedBy(), CreatedSince: this.CreatedSince(),
      ID: this.ID(), Size: this.Size(),
    });
  }
}
