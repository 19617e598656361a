/**
 * Damaged images: a flipped bit anywhere is reported by verify with its location; a cut-off
 * image is "incomplete" with what is still usable; a wrong passphrase and a tampered encrypted
 * chunk are refused.
 */
import test from 'ava';
import { copyFileSync, openSync, readSync, statSync, truncateSync, writeSync, closeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { fixture } from './helpers/fixtures.ts';
import { scratchDir } from './helpers/tools.ts';
import { ImageReader, openDiskImage, planBackup, runBackup, verifyImage } from '../src/index.ts';
import { FOOTER_SIZE, PART_HEADER_SIZE, RECORD_HEADER_SIZE } from '../src/image/format.ts';

const scratch = scratchDir('lifeboat-damage-');
test.after.always(() => scratch.remove());

/** One clean image per test file, copied before each corruption. */
const images = new Map<string, Promise<string>>();
function cleanImage(kind: 'plain' | 'encrypted'): Promise<string> {
  if (!images.has(kind)) {
    images.set(kind, (async () => {
      const device = await openDiskImage(fixture('mixed-mbr').image);
      const destination = join(scratch.dir, `${kind}.lbimg`);
      await runBackup(device, await planBackup(device, { mode: 'intelligent' }), {
        destination, threads: 1, ...(kind === 'encrypted' ? { passphrase: 'secret' } : {}),
      });
      await device.close();
      return destination;
    })());
  }
  return images.get(kind)!;
}

let copies = 0;
async function copyOf(kind: 'plain' | 'encrypted'): Promise<string> {
  const copy = join(scratch.dir, `copy-${copies++}.lbimg`);
  copyFileSync(await cleanImage(kind), copy);
  return copy;
}

function patch(path: string, at: number, f: (b: number) => number): void {
  const fd = openSync(path, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  b[0] = f(b[0]!);
  writeSync(fd, b, 0, 1, at);
  closeSync(fd);
}

/** Where the records of a clean image are, via the reader. */
async function layoutOf(path: string, passphrase?: string) {
  const reader = await ImageReader.open(path, passphrase ? { passphrase } : {});
  const records = [];
  for await (const r of reader.scan()) if (!('problem' in r)) records.push({ offset: r.place.offset, type: r.header.type, length: r.header.storedLength, sequence: r.header.sequence, source: Number(r.header.sourceOffset) });
  await reader.close();
  return records;
}

test('the clean image verifies without problems', async (t) => {
  const report = await verifyImage(await cleanImage('plain'));
  t.true(report.complete);
  t.deepEqual(report.problems, []);
  t.true(report.records > 3);
});

test('a flipped bit in chunk data is reported with the record, file offset and source offset', async (t) => {
  const path = await copyOf('plain');
  const chunk = (await layoutOf(path)).filter((r) => r.type === 1)[1]!;
  patch(path, chunk.offset + RECORD_HEADER_SIZE + Math.floor(chunk.length / 2), (b) => b ^ 0x10);
  const report = await verifyImage(path);
  t.is(report.problems.length, 1);
  t.is(report.problems[0]!.where, `part 1, byte ${chunk.offset}, record ${chunk.sequence} (source offset ${chunk.source})`);
  t.regex(report.problems[0]!.message, /payload CRC-32 is 0x[0-9a-f]+, the header says/);
  // Reading that chunk refuses too, instead of returning damaged data.
  const reader = await ImageReader.open(path);
  t.teardown(() => reader.close());
  await t.throwsAsync(reader.read(chunk.source, 512), { code: 'CORRUPT_STRUCTURE' });
});

test('a flipped bit in a record header is reported and the scan resynchronises on the next marker', async (t) => {
  const path = await copyOf('plain');
  const records = await layoutOf(path);
  const chunk = records.filter((r) => r.type === 1)[0]!;
  patch(path, chunk.offset + 0x10, (b) => b ^ 0x01);
  const report = await verifyImage(path);
  t.regex(report.problems.map((p) => p.message).join('\n'), new RegExp(`record header in image part 1 at byte ${chunk.offset}: header CRC-32`));
  t.is(report.records, records.length - 1, 'every other record was still found');
});

test('damage in the index or the final metadata: reported, and the image is read by scanning', async (t) => {
  for (const type of [3, 2]) {
    const path = await copyOf('plain');
    const records = await layoutOf(path);
    const target = records.filter((r) => r.type === type).at(-1)!;
    patch(path, target.offset + RECORD_HEADER_SIZE + 1, (b) => b ^ 0x80);
    const report = await verifyImage(path);
    t.false(report.complete);
    t.regex(report.problems[0]!.message, new RegExp(`footer found, but record ${target.sequence} .*payload CRC-32`));
    t.true(report.goodBytes > 0);
  }
});

test('a damaged part header or footer names the structure', async (t) => {
  const head = await copyOf('plain');
  patch(head, 0x28, (b) => b ^ 0x01);
  await t.throwsAsync(verifyImage(head), { code: 'CORRUPT_STRUCTURE', message: /part header of .*copy-\d+\.lbimg at byte 4092: header CRC-32/ });
  const foot = await copyOf('plain');
  patch(foot, statSync(foot).size - FOOTER_SIZE + 0x20, (b) => b ^ 0x01);
  const report = await verifyImage(foot);
  t.false(report.complete);
  t.regex(report.problems[0]!.message, /footer of .* fails its CRC-32/);
});

test('an image cut off at random points is reported incomplete with what is still usable', async (t) => {
  const clean = await cleanImage('plain');
  const full = statSync(clean).size;
  const complete = await verifyImage(clean);
  let seed = 42;
  for (let i = 0; i < 6; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const cut = PART_HEADER_SIZE + 1 + (seed % (full - PART_HEADER_SIZE - 2));
    const path = await copyOf('plain');
    truncateSync(path, cut);
    const report = await verifyImage(path);
    t.false(report.complete, `cut at ${cut}`);
    t.regex(report.problems[0]!.message, /has no footer: the image was not finished|ends at byte/);
    t.true(report.goodBytes <= complete.goodBytes);
  }
});

test('a wrong passphrase is refused before any data; a tampered encrypted chunk fails authentication', async (t) => {
  const clean = await cleanImage('encrypted');
  await t.throwsAsync(verifyImage(clean, { passphrase: 'not it' }), { code: 'WRONG_PASSPHRASE' });
  t.deepEqual((await verifyImage(clean, { passphrase: 'secret' })).problems, []);
  const path = await copyOf('encrypted');
  const chunk = (await layoutOf(path, 'secret')).filter((r) => r.type === 1)[0]!;
  // Change one ciphertext byte and repair the payload CRC, as a deliberate tamperer would.
  const fd = openSync(path, 'r+');
  const payload = Buffer.alloc(chunk.length);
  readSync(fd, payload, 0, chunk.length, chunk.offset + RECORD_HEADER_SIZE);
  payload[20] = payload[20]! ^ 0xff;
  writeSync(fd, payload, 0, chunk.length, chunk.offset + RECORD_HEADER_SIZE);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(payload));
  writeSync(fd, crc, 0, 4, chunk.offset + 0x1c);
  const header = Buffer.alloc(0x2c);
  readSync(fd, header, 0, 0x2c, chunk.offset);
  crc.writeUInt32LE(crc32(header));
  writeSync(fd, crc, 0, 4, chunk.offset + 0x2c);
  closeSync(fd);
  const report = await verifyImage(path, { passphrase: 'secret' });
  t.is(report.problems.length, 1);
  t.regex(report.problems[0]!.message, /authentication failed: the record was altered or belongs elsewhere/);
});

test('--against-source finds bytes that differ from the source', async (t) => {
  const path = await cleanImage('plain');
  const device = await openDiskImage(fixture('mixed-mbr').image);
  t.teardown(() => device.close());
  const same = await verifyImage(path, { source: device });
  t.deepEqual(same.problems, []);
  t.true(same.againstSource!.comparedBytes > 0);
  const other = await openDiskImage(fixture('bios-mbr').image);
  t.teardown(() => other.close());
  const differs = await verifyImage(path, { source: other });
  t.true(differs.againstSource!.differences.length > 0);
});
