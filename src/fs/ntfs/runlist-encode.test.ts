import test from 'ava';
import { fixture, type FixtureName } from '../../../test/helpers/fixtures.ts';
import { openFileDevice } from '../../device/file-device.ts';
import { partitionDevice } from '../../device/partition-device.ts';
import { openNtfs } from './ntfs-volume.ts';
import { attributeSlots, withFixupsApplied } from './record-write.ts';
import { FileRecordHeader, NonResidentAttribute, RECORD_IN_USE } from './record.ts';
import { encodeRunlist, joinAdjacentRuns, signedByteCount } from './runlist-encode.ts';
import { decodeRunlist, type Run } from './runlist.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const runsOf = (list: Array<[number | null, number]>, vcn = 0): Run[] =>
  list.map(([lcn, length]) => {
    const r = { vcn, lcn, length };
    vcn += length;
    return r;
  });

test('the examples of filesystems.md 2.5 encode to their bytes', (t) => {
  t.is(hex(encodeRunlist(runsOf([[61784, 300]]))), '322c0158f10000');
  t.is(hex(encodeRunlist(runsOf([[null, 10000], [57688, 1]]))), '0210273101 58e100 00'.replaceAll(' ', ''));
  // 4 clusters 0x1d1 past a run at 1000, then 48 clusters 16 before that.
  t.is(hex(encodeRunlist(runsOf([[1000, 1], [1000 + 0x1d1, 4], [1000 + 0x1d1 - 16, 48]]))), '2101e803' + '2104d101' + '1130f0' + '00');
});

test('lengths are signed too: 0x80 clusters take two bytes, a delta of zero one', (t) => {
  t.is(hex(encodeRunlist(runsOf([[5, 0x80]]))), '12800005' + '00');
  t.is(hex(encodeRunlist(runsOf([[5, 0x7f]]))), '117f05' + '00');
  t.is(hex(encodeRunlist(runsOf([[5, 1], [5, 1]]))), '110105' + '110100' + '00');
  t.is(signedByteCount(0n), 1);
  t.is(signedByteCount(-128n), 1);
  t.is(signedByteCount(-129n), 2);
  t.is(signedByteCount(127n), 1);
  t.is(signedByteCount(128n), 2);
  t.is(signedByteCount(2n ** 63n - 1n), 8);
});

test('an empty runlist is the terminator alone; runs must join up and be real', (t) => {
  t.is(hex(encodeRunlist([])), '00');
  t.throws(() => encodeRunlist([{ vcn: 0, lcn: 1, length: 2 }, { vcn: 3, lcn: 9, length: 1 }]), { code: 'USAGE', message: /starts at VCN 3/ });
  t.throws(() => encodeRunlist([{ vcn: 0, lcn: 1, length: 0 }]), { code: 'USAGE' });
  t.throws(() => encodeRunlist([{ vcn: 0, lcn: -1, length: 1 }]), { code: 'USAGE' });
});

test('random runlists round-trip through decodeRunlist', (t) => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const clusters = 2 ** 40;
  for (let i = 0; i < 2000; i++) {
    const count = 1 + rand(20);
    const list: Array<[number | null, number]> = [];
    for (let k = 0; k < count; k++) {
      const scale = [1, 200, 70000, 2 ** 24, 2 ** 31][rand(5)]!;
      const length = 1 + rand(scale) + (rand(4) === 0 ? 0x7f : 0);
      const lcn = rand(5) === 0 ? null : rand(2) === 0 ? rand(1 << 20) : rand(2 ** 31) * (1 + rand(500));
      list.push([lcn, length]);
    }
    const startVcn = rand(3) === 0 ? rand(1 << 20) : 0;
    const runs = runsOf(list, startVcn);
    const bytes = encodeRunlist(runs);
    t.deepEqual(decodeRunlist(bytes, startVcn, clusters, 0), runs);
    t.is(bytes.at(-1), 0);
  }
});

test('joinAdjacentRuns merges runs that continue each other, and only those', (t) => {
  t.deepEqual(joinAdjacentRuns(runsOf([[10, 2], [12, 3], [null, 4], [null, 1], [20, 1], [22, 1]])),
    runsOf([[10, 5], [null, 5], [20, 1], [22, 1]]));
});

const NTFS_FIXTURES: FixtureName[] = ['bios-mbr', 'uefi-gpt', 'ntfs-4k', 'ntfs-stress'];

test('every runlist in the fixture volumes (written by mkntfs and ntfs-3g) encodes back to its own bytes', async (t) => {
  let attributes = 0;
  let negative = 0;
  let sparse = 0;
  for (const name of NTFS_FIXTURES) {
    const { image, manifest } = fixture(name);
    const disk = await openFileDevice(image, { sectorSize: manifest.sectorSize });
    try {
      for (const p of manifest.partitions.filter((x) => x.fs === 'ntfs')) {
        const vol = await openNtfs(partitionDevice(disk, p.startLba * manifest.sectorSize, p.sizeLba * manifest.sectorSize));
        const size = vol.geometry.mftRecordSize;
        for (let n = 0; n < vol.mft.recordCount; n++) {
          const raw = await vol.mft.stream.read(n * size, size);
          const h = FileRecordHeader.decode(raw);
          if (h.signature !== 'FILE' || !(h.flags & RECORD_IN_USE)) continue;
          const at = vol.mft.recordOffset(n);
          const clean = withFixupsApplied(raw, `record ${n}`, at);
          for (const slot of attributeSlots(clean, `record ${n}`, at).filter((s) => s.nonResident)) {
            const nr = NonResidentAttribute.decode(clean, slot.offset);
            const pairs = clean.subarray(slot.offset + nr.mappingPairsOffset, slot.offset + slot.length);
            const runs = decodeRunlist(pairs, Number(nr.lowestVcn), vol.geometry.clusters, 0);
            const encoded = encodeRunlist(runs);
            t.is(hex(encoded), hex(pairs.subarray(0, encoded.length)), `${name} partition ${p.index} record ${n} attribute 0x${slot.type.toString(16)}`);
            attributes++;
            if (runs.some((r) => r.lcn === null)) sparse++;
            if (runs.some((r, i) => {
              const prev = runs.slice(0, i).findLast((x) => x.lcn !== null);
              return r.lcn !== null && prev !== undefined && r.lcn < prev.lcn!;
            })) negative++;
          }
        }
      }
    } finally {
      await disk.close();
    }
  }
  t.true(attributes > 100, `${attributes} attributes`);
  t.true(sparse > 0, 'sparse runs were among them');
  t.true(negative > 0, 'negative LCN deltas were among them');
});
