/**
 * Verify an image: decode every record (marker, header CRC, payload CRC, GCM tag, zstd frame,
 * size, data CRC), check the index against the records, recompute a forensic image's device
 * hashes from its data, and optionally compare every stored byte with the source.
 * Problems are collected with their location, not thrown, so one pass reports all damage.
 */
import { createHash } from 'node:crypto';
import type { ReadableDevice } from '../device/block-device.ts';
import { LifeboatError } from '../errors.ts';
import type { BackupEvent } from '../events.ts';
import { ExtentList } from '../fs/extents.ts';
import { RECORD_TYPE } from './format.ts';
import { ImageReader, type OpenImageOptions } from './reader.ts';

export interface VerifyProblem {
  /** e.g. "part 1, byte 4196352, record 7 (source offset 3145728)". */
  where: string;
  message: string;
}

export interface VerifyReport {
  path: string;
  complete: boolean;
  mode: string;
  records: number;
  chunks: number;
  zeroChunks: number;
  /** Source bytes the image holds intact. */
  goodBytes: number;
  problems: VerifyProblem[];
  hashes?: { expected: Record<string, string>; computed: Record<string, string>; match: boolean };
  againstSource?: { comparedBytes: number; differences: Array<[number, number]> };
  seconds: number;
}

export interface VerifyOptions extends OpenImageOptions {
  /** Re-read the source and compare every stored byte. */
  source?: ReadableDevice;
  signal?: AbortSignal;
  onEvent?: (event: BackupEvent) => void;
}

const MAX_LISTED_DIFFERENCES = 100;

export async function verifyImage(path: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = performance.now();
  const reader = await ImageReader.open(path, options);
  const emit = options.onEvent ?? (() => {});
  try {
    // For an incomplete image the reader's first problem says why (no footer, or what it names is damaged).
    const problems: VerifyProblem[] = reader.problems.map((message) => ({ where: path, message }));
    const chunkSize = reader.chunkSize;
    const good = new Set<number>();
    const seen = new Map<string, { type: number; sourceOffset: number }>();
    let records = 0;
    let done = 0;
    const total = [...reader.chunks.values()].reduce((s, c) => s + c.sourceLength, 0);
    let last = 0;
    const known = new Set(reader.problems);
    for await (const item of reader.scan()) {
      if (options.signal?.aborted) throw new LifeboatError('ABORTED', 'verification was cancelled');
      if ('problem' in item) {
        // An incomplete image was already scanned once when opened: report each problem once.
        if (!known.has(item.problem)) problems.push({ where: path, message: item.problem });
        continue;
      }
      records++;
      const { place, header } = item;
      const where = `part ${place.part}, byte ${place.offset}, record ${header.sequence}` +
        (header.type === RECORD_TYPE.chunk ? ` (source offset ${header.sourceOffset})` : '');
      seen.set(`${place.part}:${place.offset}`, { type: header.type, sourceOffset: Number(header.sourceOffset) });
      try {
        await reader.readRecord(place);
        if (header.type === RECORD_TYPE.chunk) {
          good.add(Number(header.sourceOffset) / chunkSize);
          done += header.sourceLength;
        }
      } catch (e) {
        if (!(e instanceof LifeboatError) || e.code === 'WRONG_PASSPHRASE') throw e;
        problems.push({ where, message: e.message });
      }
      if (performance.now() - last > 250) {
        last = performance.now();
        emit({ type: 'progress', phase: 'verify', bytesDone: done, bytesTotal: total, rate: done / ((last - started) / 1000) });
      }
    }
    let zeroChunks = 0;
    for (const [n, loc] of reader.chunks) {
      if (!loc.place) {
        zeroChunks++;
        good.add(n);
        continue;
      }
      const record = seen.get(`${loc.place.part}:${loc.place.offset}`);
      if (!record || record.type !== RECORD_TYPE.chunk || record.sourceOffset !== loc.sourceOffset) {
        problems.push({ where: `index entry for source offset ${loc.sourceOffset}`, message: `points at part ${loc.place.part}, byte ${loc.place.offset}, where no such chunk record is` });
        good.delete(n);
      }
    }
    const goodBytes = [...good].reduce((s, n) => s + (reader.chunks.get(n)?.sourceLength ?? 0), 0);
    const report: VerifyReport = {
      path, complete: reader.complete, mode: reader.metadata.mode, records, chunks: reader.chunks.size, zeroChunks, goodBytes,
      problems, seconds: 0,
    };
    const expected = reader.metadata.hashes as Record<string, string> | undefined;
    if (reader.metadata.mode === 'forensic' && expected) report.hashes = await recomputeHashes(reader, expected, problems);
    if (options.source) report.againstSource = await compareWithSource(reader, options.source, problems);
    report.seconds = (performance.now() - started) / 1000;
    return report;
  } finally {
    await reader.close();
  }
}

/** Hash the image's data stream, the whole device in order, as the backup hashed it. */
async function recomputeHashes(reader: ImageReader, expected: Record<string, string>, problems: VerifyProblem[]) {
  const hashers = Object.keys(expected).map((name) => [name, createHash(name)] as const);
  const size = reader.metadata.source.size;
  for (let n = 0; n * reader.chunkSize < size; n++) {
    let data: Uint8Array | undefined;
    try {
      data = await reader.readChunk(n);
    } catch (e) {
      if (!(e instanceof LifeboatError)) throw e;
    }
    if (!data) {
      problems.push({ where: `source offset ${n * reader.chunkSize}`, message: 'chunk missing or damaged: the device hashes cannot be recomputed' });
      return { expected, computed: {}, match: false };
    }
    for (const [, h] of hashers) h.update(data);
  }
  const computed = Object.fromEntries(hashers.map(([name, h]) => [name, h.digest('hex')]));
  const match = Object.keys(expected).every((k) => expected[k] === computed[k]);
  if (!match) problems.push({ where: 'device hashes', message: `recomputed ${JSON.stringify(computed)}, the image records ${JSON.stringify(expected)}` });
  return { expected, computed, match };
}

async function compareWithSource(reader: ImageReader, source: ReadableDevice, problems: VerifyProblem[]) {
  const stored = ExtentList.of((reader.metadata.storedExtents ?? []).map(([start, length]) => ({ start, length })));
  const differences: Array<[number, number]> = [];
  let compared = 0;
  const step = reader.chunkSize;
  for (const e of stored.extents) {
    for (let at = e.start; at < e.start + e.length; at += step - (at % step)) {
      const n = Math.min(step - (at % step), e.start + e.length - at);
      let image: Uint8Array;
      try {
        image = await reader.read(at, n);
      } catch (e) {
        if (!(e instanceof LifeboatError)) throw e;
        continue; // already reported by the record pass
      }
      const original = await source.read(at, n);
      if (Buffer.compare(image, original) !== 0) {
        const last = differences.at(-1);
        if (last && last[0] + last[1] === at) last[1] += n;
        else if (differences.length < MAX_LISTED_DIFFERENCES) differences.push([at, n]);
      }
      compared += n;
    }
  }
  for (const [at, n] of differences) problems.push({ where: `source offset ${at}`, message: `${n} bytes differ from the source` });
  return { comparedBytes: compared, differences };
}
