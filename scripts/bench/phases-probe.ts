/**
 * Where a Lifeboat backup's time goes: the per-chunk steps of runBackup done one after the
 * other in one thread, each timed on its own (wall and CPU), over the chunks the real plan
 * stores. Not a reference comparison: it says which step bounds the pipeline and what a change
 * would save. `npm run bench -- backup-phases` runs it for both modes.
 *
 *   phases-probe.ts intelligent|forensic VOLUME SCRATCH_FILE
 *
 * Steps, as run-backup.ts and record.ts do them: read (a fresh chunk buffer, device.read of each
 * stored part, copied in), zero check, SHA-256 (forensic), hand-off to a worker (postMessage with
 * the buffer transferred), zstd level 3 through the engine's codec, CRC-32 of data and payload,
 * record assembly, append to the image file, and the final fsync. Alternatives measured beside
 * them: reading straight into the chunk buffer, and zstd with an output buffer as large as the
 * chunk (zlib's `chunkSize` option).
 */
import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import * as zlib from 'node:zlib';
import { openFileDevice, planBackup, type ReadableDevice } from '../../src/index.ts';
import { nodeCodec } from '../../src/codec/zstd.ts';
import { openVolumeAsDisk } from './volume-disk.ts';

const [mode, volumePath, scratch] = process.argv.slice(2);
if ((mode !== 'intelligent' && mode !== 'forensic') || !volumePath || !scratch) {
  process.stderr.write('usage: phases-probe.ts intelligent|forensic VOLUME SCRATCH_FILE\n');
  process.exit(2);
}
if (!nodeCodec) throw new Error('this Node has no zstd');
const codec = nodeCodec;

const CHUNK = 1 << 20;
const MIB = 1 << 20;
const device: ReadableDevice = mode === 'intelligent' ? await openVolumeAsDisk(volumePath) : await openFileDevice(volumePath);
const diskToFile = mode === 'intelligent' ? -MIB : 0; // the virtual disk's first MiB is not in the file
const plan = await planBackup(device, { mode });

interface Step { wall: number; cpu: number; bytes: number }
const steps = new Map<string, Step>();
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
async function time<T>(name: string, bytes: number, f: () => T | Promise<T>): Promise<T> {
  const w0 = performance.now();
  const c0 = cpuNow();
  const result = await f();
  const s = steps.get(name) ?? { wall: 0, cpu: 0, bytes: 0 };
  s.wall += (performance.now() - w0) / 1000;
  s.cpu += cpuNow() - c0;
  s.bytes += bytes;
  steps.set(name, s);
  return result;
}

// The engine's zero check (run-backup.ts), and a byte-wise alternative through Buffer.compare.
const isZero = (b: Uint8Array): boolean => {
  const words = new BigUint64Array(b.buffer, b.byteOffset, b.length >> 3);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0n) return false;
  for (let i = words.length << 3; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
};
const ZEROS = new Uint8Array(CHUNK);

const raw = await open(volumePath, 'r');
const out = await open(scratch, 'w');
const channel = new MessageChannel();
channel.port2.on('message', () => {});
const hash = createHash('sha256');
const imageId = new Uint8Array(16);
let written = 0;
let chunks = 0;
let zeroChunks = 0;
let storedBytes = 0;
let payloadBytes = 0;

const extents = plan.storedExtents.extents;
/** The stored parts of [start, end), in disk offsets (run-backup.ts walks them the same way). */
let first = 0;
function partsOf(start: number, end: number): Array<{ start: number; length: number }> {
  while (first < extents.length && extents[first]!.start + extents[first]!.length <= start) first++;
  const parts = [];
  for (let i = first; i < extents.length && extents[i]!.start < end; i++) {
    const s = Math.max(extents[i]!.start, start);
    const t = Math.min(extents[i]!.start + extents[i]!.length, end);
    if (s < t) parts.push({ start: s, length: t - s });
  }
  return parts;
}
let previous = -1;
for (const e of extents) {
  for (let k = Math.max(Math.floor(e.start / CHUNK), previous + 1); k * CHUNK < e.start + e.length; k++) {
    previous = k;
    const start = k * CHUNK;
    const end = Math.min(start + CHUNK, device.size);
    const parts = partsOf(start, end);
    // Each pair of alternatives runs in alternating order, so neither always finds the bytes in the CPU cache.
    const swap = chunks % 2 === 1;
    const partBytes = parts.reduce((s, p) => s + p.length, 0);
    storedBytes += partBytes;
    const altRead = () => time('  alt: read straight into the chunk buffer', partBytes, async () => {
      const d = Buffer.allocUnsafe(end - start);
      for (const p of parts) {
        const fileAt = p.start + diskToFile; // the virtual MBR of the intelligent disk is not in the file
        if (fileAt < 0) continue;
        let done = 0;
        while (done < p.length) done += (await raw.read(d, p.start - start + done, p.length - done, fileAt + done)).bytesRead;
      }
    });
    if (swap) await altRead();
    const data = await time('read: new buffer + device.read + copy', partBytes, async () => {
      const d = new Uint8Array(end - start);
      for (const p of parts) d.set(await device.read(p.start, p.length), p.start - start);
      return d;
    });
    if (!swap) await altRead();
    const altZero = () => time('  alt: zero check (Buffer.compare)', data.length, () => Buffer.compare(data, ZEROS.subarray(0, data.length)) === 0);
    if (swap) await altZero();
    const zero = await time('zero check (BigUint64Array loop)', data.length, () => isZero(data));
    if (!swap) await altZero();
    if (mode === 'forensic') await time('SHA-256', data.length, () => hash.update(data));
    chunks++;
    if (zero) {
      zeroChunks++;
      continue;
    }
    const copy = data.slice(); // transferred (detached) below; `data` stays for the steps after
    await time('hand-off: postMessage, buffer transferred', data.length, () =>
      channel.port1.postMessage({ id: chunks, encode: { type: 1, sourceOffset: start, sequence: chunks, data: copy, level: 3, imageId } }, [copy.buffer]));
    const altZstd = () => time('  alt: zstd -3, output buffer >= chunk', data.length, () =>
      zlib.zstdCompressSync(data, { chunkSize: data.length + (64 << 10), params: { [zlib.constants.ZSTD_c_compressionLevel]: 3 } }));
    if (swap) await altZstd();
    const payload = await time('zstd -3 (engine codec: zstdCompressSync)', data.length, () => codec.compress(data, 3));
    if (!swap) await altZstd();
    const stored = payload.length < data.length ? payload : data;
    await time('CRC-32 of data and payload', data.length + stored.length, () => {
      zlib.crc32(data);
      zlib.crc32(stored);
    });
    const record = await time('record assembly (header + payload copy)', stored.length, () => {
      const r = new Uint8Array(48 + stored.length);
      r.set(stored, 48);
      return r;
    });
    payloadBytes += record.length;
    await time('write (append to the image file)', record.length, async () => {
      let done = 0;
      while (done < record.length) done += (await out.write(record, done, record.length - done, written + done)).bytesWritten;
      written += record.length;
    });
  }
}
await time('fsync of the image file', written, () => out.sync());
await out.close();
await raw.close();
await rm(scratch);
channel.port1.close();
await device.close();

const threads = availableParallelism();
const get = (name: string) => steps.get(name) ?? { wall: 0, cpu: 0, bytes: 0 };
console.log(`${mode}: ${chunks} chunks of 1 MiB (${zeroChunks} all zero), ${(storedBytes / MIB).toFixed(0)} MiB read, ${(payloadBytes / MIB).toFixed(0)} MiB of records`);
console.log(`  ${'step'.padEnd(48)} ${'wall s'.padStart(7)} ${'CPU s'.padStart(7)} ${'MB/s'.padStart(7)}`);
for (const [name, s] of steps) {
  console.log(`  ${name.padEnd(48)} ${s.wall.toFixed(2).padStart(7)} ${s.cpu.toFixed(2).padStart(7)} ${(s.bytes / 1e6 / Math.max(s.wall, 1e-9)).toFixed(0).padStart(7)}`);
}
const main = ['read: new buffer + device.read + copy', 'zero check (BigUint64Array loop)', 'SHA-256', 'hand-off: postMessage, buffer transferred']
  .reduce((s, n) => s + get(n).wall, 0);
const workers = ['zstd -3 (engine codec: zstdCompressSync)', 'CRC-32 of data and payload', 'record assembly (header + payload copy)']
  .reduce((s, n) => s + get(n).wall, 0);
const writing = get('write (append to the image file)').wall + get('fsync of the image file').wall;
console.log(`  main thread: read, zero check, hash, hand-off ${main.toFixed(2)} s, and runBackup awaits the writes there too: ${(main + writing).toFixed(2)} s in series`);
console.log(`  workers: compress, CRCs, assembly ${workers.toFixed(2)} s / ${threads} threads = ${(workers / threads).toFixed(2)} s`);
console.log(`  all steps ${(main + workers + writing).toFixed(2)} s of work on ${threads} CPUs: no schedule beats ${((main + workers + writing) / threads).toFixed(2)} s`);
