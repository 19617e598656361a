import test from 'ava';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { scratchDir } from '../../../test/helpers/tools.ts';
import { MemoryDevice } from '../../device/memory-device.ts';
import { openNtfs } from './ntfs-volume.ts';
import { attributeSlots, encodeFixups, readThroughRuns, rewriteNonResident, streamRanges, withFixupsApplied, writeThroughRuns } from './record-write.ts';
import { ATTR, decodeRecord, FileRecordHeader, RECORD_IN_USE, type NonResidentAttr } from './record.ts';
import { mkntfs } from './test-volumes.ts';

const scratch = scratchDir('lifeboat-record-write-');
test.after.always(() => scratch.remove());
const volumes = {
  s512: mkntfs(join(scratch.dir, 's512.img'), 16 << 20, []),
  s4096: mkntfs(join(scratch.dir, 's4096.img'), 16 << 20, ['-s', '4096']),
};

async function records(image: string) {
  const dev = new MemoryDevice(new Uint8Array(readFileSync(image)));
  const vol = await openNtfs(dev);
  const size = vol.geometry.mftRecordSize;
  const out: Array<{ n: number; raw: Uint8Array; at: number }> = [];
  for (let n = 0; n < 16; n++) out.push({ n, raw: await vol.mft.stream.read(n * size, size), at: vol.mft.recordOffset(n) });
  return { vol, dev, out };
}

for (const [name, image] of Object.entries(volumes)) {
  test(`${name}: encodeFixups redoes mkntfs's update sequence arrays byte for byte`, async (t) => {
    const { out } = await records(image);
    let checked = 0;
    for (const { n, raw, at } of out) {
      const h = FileRecordHeader.decode(raw);
      if (h.signature !== 'FILE' || !(h.flags & RECORD_IN_USE)) continue;
      const view = new DataView(raw.buffer, raw.byteOffset);
      const usn = view.getUint16(h.usaOffset, true);
      if (usn < 2) continue;
      const clean = withFixupsApplied(raw, `record ${n}`, at);
      new DataView(clean.buffer, clean.byteOffset).setUint16(h.usaOffset, usn - 1, true); // encodeFixups bumps it
      t.deepEqual(encodeFixups(clean, `record ${n}`, at), raw, `record ${n}`);
      checked++;
    }
    t.true(checked >= 10);
  });
}

test('encodeFixups: bumps the number (skipping 0 and 0xFFFF), undoes exactly, refuses a bad array', (t) => {
  const rec = new Uint8Array(1024);
  const v = new DataView(rec.buffer);
  v.setUint16(4, 0x30, true);
  v.setUint16(6, 3, true);
  v.setUint16(0x30, 0xfffe, true);
  v.setUint16(510, 0x1234, true);
  v.setUint16(1022, 0x5678, true);
  const out = encodeFixups(rec, 'test', 0);
  const o = new DataView(out.buffer);
  t.is(o.getUint16(0x30, true), 1);
  t.is(o.getUint16(510, true), 1);
  t.is(o.getUint16(1022, true), 1);
  t.deepEqual([o.getUint16(0x32, true), o.getUint16(0x34, true)], [0x1234, 0x5678]);
  const back = withFixupsApplied(out, 'test', 0);
  t.is(new DataView(back.buffer).getUint16(510, true), 0x1234);
  t.is(new DataView(back.buffer).getUint16(1022, true), 0x5678);
  v.setUint16(6, 4, true);
  t.throws(() => encodeFixups(rec, 'test', 7), { code: 'CORRUPT_STRUCTURE', message: /update sequence array/ });
});

test('rewriteNonResident: a longer runlist grows the attribute, moves the rest, and the record decodes', async (t) => {
  const { vol, out } = await records(volumes.s512);
  const { raw, at } = out[6]!; // $Bitmap
  const clean = withFixupsApplied(raw, 'record 6', at);
  const slot = attributeSlots(clean, 'record 6', at).find((s) => s.type === ATTR.data)!;
  const before = decodeRecord(raw.slice(), 6, at, vol.geometry.clusters)!;
  const old = before.attributes.find((a) => a.type === ATTR.data) as NonResidentAttr;
  const cs = vol.geometry.clusterSize;
  // Many fragments: the runlist outgrows the attribute's padding several times over.
  const runs = [...old.runs];
  for (let i = 0; i < 20; i++) runs.push({ vcn: runs.at(-1)!.vcn + runs.at(-1)!.length, lcn: 3000 + 7 * i, length: 1 });
  const change = { runs, allocatedSize: runs.length * cs, dataSize: runs.length * cs, initializedSize: runs.length * cs };
  const next = rewriteNonResident(clean, slot.offset, change, 'record 6', at);
  const h0 = FileRecordHeader.decode(clean);
  const h1 = FileRecordHeader.decode(next);
  t.true(h1.bytesInUse > h0.bytesInUse);
  t.is((h1.bytesInUse - h0.bytesInUse) % 8, 0);
  const after = decodeRecord(encodeFixups(next, 'record 6', at), 6, at, vol.geometry.clusters)!;
  const data = after.attributes.find((a) => a.type === ATTR.data) as NonResidentAttr;
  t.deepEqual(data.runs, runs);
  t.is(data.highestVcn, runs.length - 1);
  t.is(data.dataSize, runs.length * cs);
  t.deepEqual(after.attributes.filter((a) => a.type !== ATTR.data).map((a) => ({ ...a, offset: 0 })),
    before.attributes.filter((a) => a.type !== ATTR.data).map((a) => ({ ...a, offset: 0 })));
  // A runlist that cannot fit the record is refused.
  const huge = Array.from({ length: 200 }, (_, i) => ({ vcn: i, lcn: 100_000 * (i % 2) + i, length: 1 }));
  t.throws(() => rewriteNonResident(clean, slot.offset, { ...change, runs: huge }, 'record 6', at), { code: 'USAGE', message: /record has only \d+ free/ });
});

test('streamRanges maps stream bytes through runs and refuses holes and unmapped bytes', async (t) => {
  const runs = [{ vcn: 0, lcn: 10, length: 2 }, { vcn: 2, lcn: null, length: 1 }, { vcn: 3, lcn: 5, length: 1 }];
  t.deepEqual(streamRanges(runs, 512, 100, 900, 's'), [{ streamOffset: 100, volumeOffset: 5220, length: 900 }]);
  t.deepEqual(streamRanges(runs, 512, 1536, 100, 's'), [{ streamOffset: 1536, volumeOffset: 2560, length: 100 }]);
  t.throws(() => streamRanges(runs, 512, 1000, 100, 's'), { code: 'USAGE', message: /sparse/ });
  t.throws(() => streamRanges(runs, 512, 1900, 300, 's'), { code: 'USAGE', message: /not mapped/ });
  const dev = new MemoryDevice(new Uint8Array(8192));
  const frag = [{ vcn: 0, lcn: 4, length: 1 }, { vcn: 1, lcn: 1, length: 1 }];
  await writeThroughRuns(dev, frag, 512, 256, new Uint8Array(512).fill(7), 's');
  t.deepEqual(await dev.read(2048 + 256, 256), new Uint8Array(256).fill(7));
  t.deepEqual(await dev.read(512, 256), new Uint8Array(256).fill(7));
  t.deepEqual(await readThroughRuns(dev, frag, 512, 256, 512, 's'), new Uint8Array(512).fill(7));
});
