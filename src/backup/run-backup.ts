/**
 * Runs a backup plan: reads the planned bytes chunk by chunk (in the main thread, in disk
 * order), has worker threads compress and encrypt them, and writes the records in order.
 * At most `pool.capacity` chunks are in flight, so memory stays bounded for any disk size.
 * Forensic mode hashes the whole device stream as it passes. Progress goes to `onEvent`.
 */
import { createHash, type Hash } from 'node:crypto';
import { basename } from 'node:path';
import type { ReadableDevice } from '../device/block-device.ts';
import { LifeboatError } from '../errors.ts';
import type { Extent } from '../fs/extents.ts';
import { defaultCodec } from '../codec/zstd.ts';
import { RECORD_TYPE } from '../image/format.ts';
import { ImageWriter } from '../image/writer.ts';
import type { BackupEvent } from '../events.ts';
import { RecordPool } from '../image/record-pool.ts';
import type { BackupPlan } from './plan.ts';

export type HashName = 'sha256' | 'md5' | 'sha1';

export interface AcquisitionInfo {
  examiner?: string;
  caseNumber?: string;
  evidenceId?: string;
  notes?: string;
}

export interface SourceIdentity {
  model?: string;
  serial?: string;
  /** True for an SSD: TRIMmed (deleted) blocks may read as zeros. */
  solidState?: boolean;
}

export interface BackupOptions {
  destination: string;
  level?: number;
  chunkSize?: number;
  splitSize?: number;
  passphrase?: string;
  threads?: number;
  /** Forensic: extra hashes beside SHA-256 (always computed). */
  hashes?: HashName[];
  acquisition?: AcquisitionInfo;
  identity?: SourceIdentity;
  signal?: AbortSignal;
  onEvent?: (event: BackupEvent) => void;
  /** Used by tests to pin the WebAssembly codec in the workers. */
  workerCodec?: 'node' | 'zstd-codec';
}

export interface BackupResult {
  path: string;
  parts: number;
  imageBytes: number;
  storedBytes: number;
  chunks: number;
  zeroChunks: number;
  seconds: number;
  hashes?: Partial<Record<HashName, string>>;
  metadata: Record<string, unknown>;
}

export const DEFAULT_CHUNK = 1 << 20;
export const DEFAULT_LEVEL = 3;
const TOOL = 'lifeboat 0.1.0';
const PROGRESS_INTERVAL_MS = 250;

export class AbortedError extends LifeboatError {
  constructor(what: string) {
    super('ABORTED', `${what} was cancelled; the image is incomplete`);
  }
}

/** The parts of `extents` inside [start, end), relative to `start`. */
function* within(extents: readonly Extent[], from: number, start: number, end: number): Generator<Extent> {
  for (let i = from; i < extents.length; i++) {
    const e = extents[i]!;
    if (e.start >= end) return;
    const s = Math.max(e.start, start);
    const t = Math.min(e.start + e.length, end);
    if (s < t) yield { start: s - start, length: t - s };
  }
}

interface TableBytes {
  head: Uint8Array;
  tail?: { offset: number; bytes: Uint8Array };
}

function planMetadata(plan: BackupPlan, options: BackupOptions, chunkSize: number, tables: TableBytes | undefined) {
  return {
    format: 'lifeboat-image', tool: TOOL, createdAt: new Date().toISOString(), mode: plan.mode,
    source: { ...plan.source, scheme: plan.layout.scheme, diskId: plan.layout.diskId, ...options.identity },
    ...(tables ? {
      partitionTable: {
        head: Buffer.from(tables.head).toString('base64'),
        ...(tables.tail ? { tailOffset: tables.tail.offset, tail: Buffer.from(tables.tail.bytes).toString('base64') } : {}),
      },
    } : {}),
    partitions: plan.partitions.map((p) => ({
      index: p.partition.index, offset: p.partition.offset, size: p.partition.size, type: p.partition.type,
      typeName: p.partition.typeName, guid: p.partition.guid, name: p.partition.name, active: p.partition.active,
      attributes: p.partition.attributes === undefined ? undefined : `0x${p.partition.attributes.toString(16).padStart(16, '0')}`,
      filesystem: p.filesystem, label: p.label, clusterSize: p.clusterSize, usedBytes: p.usedBytes, mode: p.mode,
      fallbackReason: p.fallbackReason, storedBytes: p.extents.bytes, leftOutBytes: p.leftOutBytes,
      excludedFiles: p.excludedFiles, diffArea: { bytes: p.diffArea.bytes, excluded: p.diffArea.excluded, files: p.diffArea.files },
    })),
    storedExtents: plan.storedExtents.toJSON(),
    chunkSize,
    unreadable: [] as Array<[number, number]>,
    warnings: plan.warnings,
  };
}

export async function runBackup(device: ReadableDevice, plan: BackupPlan, options: BackupOptions): Promise<BackupResult> {
  const started = performance.now();
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  const level = options.level ?? DEFAULT_LEVEL;
  const emit = options.onEvent ?? (() => {});
  const codec = await defaultCodec();
  // The tables are also in the metadata, so a damaged image still says how its disk was laid out.
  // A forensic image holds the whole device anyway.
  const tables = plan.mode === 'forensic' ? undefined : {
    head: await device.read(0, Math.min(1 << 20, device.size)),
    ...(plan.gptBackupArea ? { tail: { offset: plan.gptBackupArea.start, bytes: await device.read(plan.gptBackupArea.start, plan.gptBackupArea.length) } } : {}),
  };
  const metadata: Record<string, unknown> = { ...planMetadata(plan, options, chunkSize, tables), state: 'in-progress' };
  if (plan.mode === 'forensic') metadata.acquisition = { ...options.acquisition, started: new Date().toISOString() };

  const writer = await ImageWriter.create(options.destination, {
    chunkSize, codec, level, ...(options.splitSize ? { splitSize: options.splitSize } : {}),
    ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
  });
  const pool = new RecordPool({ ...(options.threads ? { threads: options.threads } : {}), ...(options.workerCodec ? { codec: options.workerCodec } : {}) });
  const hashers = new Map<HashName, Hash>();
  if (plan.mode === 'forensic') for (const h of new Set<HashName>(['sha256', ...(options.hashes ?? [])])) hashers.set(h, createHash(h));

  const total = plan.storedExtents.bytes;
  let done = 0;
  let chunks = 0;
  let zeroChunks = 0;
  let lastEvent = 0;
  const progress = (force = false) => {
    const now = performance.now();
    if (!force && now - lastEvent < PROGRESS_INTERVAL_MS) return;
    lastEvent = now;
    const seconds = (now - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    emit({ type: 'progress', phase: 'copy', bytesDone: done, bytesTotal: total, imageBytes: writer.bytesWritten,
      rate, etaSeconds: rate > 0 ? (total - done) / rate : undefined });
  };

  try {
    emit({ type: 'phase', phase: 'copy', message: `backing up ${basename(device.name)} to ${options.destination}` });
    for (const w of plan.warnings) emit({ type: 'warning', message: w });
    await writer.writeMetadata(metadata);
    let sequence = writer.nextSequence();
    // Chunks go to the writer strictly in source order (the index lists them so), through a
    // chain of writes the read loop does not wait on; both queues are bounded by the pool size.
    const pending: Array<{ record?: Promise<Uint8Array>; offset: number; length: number }> = [];
    let writing: Promise<void> = Promise.resolve();
    let backlog = 0;
    const schedule = () => {
      const job = pending.shift()!;
      backlog++;
      writing = writing.then(async () => {
        if (job.record) await writer.writeChunk(await job.record, job.offset, job.length);
        else writer.noteZeroChunk(job.offset, job.length);
        backlog--;
      });
      writing.catch(() => {}); // awaited below; this only keeps a failed write from being "unhandled" meanwhile
    };
    const zero = Buffer.alloc(chunkSize);
    const extents = plan.storedExtents.extents;
    let first = 0;
    let previousChunk = -1;
    for (let i = 0; i < extents.length; i++) {
      const e = extents[i]!;
      for (let k = Math.max(Math.floor(e.start / chunkSize), previousChunk + 1); k * chunkSize < e.start + e.length; k++) {
        if (options.signal?.aborted) throw new AbortedError('the backup');
        previousChunk = k;
        const start = k * chunkSize;
        const end = Math.min(start + chunkSize, device.size);
        while (first < extents.length && extents[first]!.start + extents[first]!.length <= start) first++;
        const parts = [...within(extents, first, start, end)];
        let data: Uint8Array;
        if (parts.length === 1 && parts[0]!.start === 0 && parts[0]!.length === end - start) {
          data = await device.read(start, end - start); // the whole chunk is wanted: no second copy
        } else {
          data = new Uint8Array(end - start);
          for (const part of parts) data.set(await device.read(start + part.start, part.length), part.start);
        }
        for (const part of parts) done += part.length;
        for (const h of hashers.values()) h.update(data);
        chunks++;
        if (Buffer.compare(data, zero.subarray(0, data.length)) === 0) {
          pending.push({ offset: start, length: data.length });
          zeroChunks++;
        } else {
          pending.push({ record: pool.encode({ type: RECORD_TYPE.chunk, sourceOffset: start, sequence: sequence++, data, level,
            ...(writer.key ? { key: writer.key } : {}), imageId: writer.imageId }), offset: start, length: end - start });
        }
        if (pending.length >= pool.capacity) schedule();
        if (backlog >= pool.capacity) await writing;
        progress();
      }
    }
    while (pending.length > 0) schedule();
    await writing;

    const hashes = hashers.size > 0 ? Object.fromEntries([...hashers].map(([name, h]) => [name, h.digest('hex')])) as Partial<Record<HashName, string>> : undefined;
    Object.assign(metadata, {
      state: 'complete', chunks, zeroChunks, storedBytes: total, ...(hashes ? { hashes } : {}),
      ...(plan.mode === 'forensic' ? { acquisition: { ...(metadata.acquisition as object), finished: new Date().toISOString() } } : {}),
    });
    emit({ type: 'phase', phase: 'finish', message: 'writing the index and checking it' });
    const imageBytes = await writer.finish(metadata);
    progress(true);
    return { path: options.destination, parts: writer.partCount, imageBytes, storedBytes: total, chunks, zeroChunks,
      seconds: (performance.now() - started) / 1000, ...(hashes ? { hashes } : {}), metadata };
  } finally {
    await pool.close();
    await writer.close();
  }
}
