import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { encodeFilters, type EngineClient } from './engine-client.js';
import type { FilterArgs } from './engine-client.js';

/** Calls behind commit, diff, export, save, load, prune and system df (over an EngineClient). */

function pathPart(s: string): string {
  return s.replace(/[^A-Za-z0-9\-._~/:@!$&'()*+,;=]/g, (c) => encodeURIComponent(c));
}

export interface ContainerChange {
  Path: string;
  Kind: number;
}

export async function containerChanges(client: EngineClient, id: string): Promise<ContainerChange[]> {
  return (await client.json<ContainerChange[] | null>('GET', `/containers/${pathPart(id)}/changes`)) ?? [];
}

export function exportContainer(client: EngineClient, id: string): Promise<IncomingMessage> {
  return client.request('GET', `/containers/${pathPart(id)}/export`);
}

export interface CommitParams {
  container: string;
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  pause: boolean;
  changes: string[];
  config?: Record<string, unknown>;
}

export function commitContainer(client: EngineClient, p: CommitParams): Promise<{ Id: string }> {
  return client.json<{ Id: string }>('POST', '/commit', {
    query: {
      container: p.container,
      repo: p.repo || undefined,
      tag: p.tag || undefined,
      comment: p.comment || undefined,
      author: p.author || undefined,
      pause: p.pause ? '1' : '0',
      changes: p.changes.length ? p.changes : undefined,
    },
    body: p.config ?? {},
  });
}

export function saveImages(client: EngineClient, names: string[]): Promise<IncomingMessage> {
  return client.request('GET', '/images/get', { query: { names } });
}

export function loadImages(client: EngineClient, source: Readable, quiet: boolean): Promise<IncomingMessage> {
  return client.request('POST', '/images/load', {
    query: { quiet: quiet ? '1' : undefined },
    headers: { 'Content-Type': 'application/x-tar' },
    stream: source,
  });
}

export interface PruneReport {
  ImagesDeleted: Array<{ Untagged?: string; Deleted?: string }> | null;
  SpaceReclaimed: number;
}

export function pruneImages(client: EngineClient, filters: FilterArgs): Promise<PruneReport> {
  return client.json<PruneReport>('POST', '/images/prune', { query: { filters: encodeFilters(filters) } });
}

export function systemDf(client: EngineClient): Promise<Record<string, unknown>> {
  return client.json<Record<string, unknown>>('GET', '/system/df');
}
