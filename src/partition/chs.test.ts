import test from 'ava';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { MemoryDevice } from '../device/memory-device.ts';
import { fixture } from '../../test/helpers/fixtures.ts';
import { scratchDir } from '../../test/helpers/tools.ts';
import { execFileSync } from 'node:child_process';
import { chsToLba, decodeChs, encodeChs, isChsRepresentable, lbaToChs, packChs } from './chs.ts';
import { MBR_ENTRY_OFFSET, MbrPartitionEntry, readMbrLayout } from './mbr.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('the reference worked examples: sfdisk at LBA 2048, sgdisk at the end of a 262144-sector disk', (t) => {
  t.is(hex(encodeChs(2048)), '202100'); // H=32, S=33, C=0
  t.is(hex(encodeChs(262143)), '510110'); // H=81, S=1, C=16
  t.deepEqual(lbaToChs(262143), { cylinder: 16, head: 81, sector: 1 });
  t.is(hex(encodeChs(0)), '000100');
  t.is(hex(encodeChs(1)), '000200'); // the protective MBR's start
});

test('cylinder bits 8–9 go to the top of the sector byte', (t) => {
  const lba = chsToLba({ cylinder: 0x3ff, head: 3, sector: 5 });
  t.is(hex(encodeChs(lba)), '03c5ff');
  t.is(hex(encodeChs(chsToLba({ cylinder: 0x1a5, head: 254, sector: 63 }))), 'fe7fa5');
  t.deepEqual(decodeChs(Uint8Array.of(0xfe, 0x7f, 0xa5)), { cylinder: 0x1a5, head: 254, sector: 63 });
});

test('past cylinder 1023 the maximum 1023/254/63 (FE FF FF) is stored', (t) => {
  const lastRepresentable = 1024 * 255 * 63 - 1;
  t.true(isChsRepresentable(lastRepresentable));
  t.false(isChsRepresentable(lastRepresentable + 1));
  t.is(hex(encodeChs(lastRepresentable)), 'feffff');
  t.is(hex(encodeChs(lastRepresentable + 1)), 'feffff');
  t.is(hex(encodeChs(2 ** 40)), 'feffff');
  t.deepEqual(decodeChs(encodeChs(2 ** 40)), { cylinder: 1023, head: 254, sector: 63 });
});

test('encode and decode are inverse below the cap, for other geometries too', (t) => {
  for (const geometry of [undefined, { heads: 16, sectorsPerTrack: 63 }, { heads: 64, sectorsPerTrack: 32 }]) {
    for (const lba of [0, 1, 62, 63, 64, 2047, 2048, 16064, 16065, 123456, 1_000_000]) {
      if (!isChsRepresentable(lba, geometry)) continue;
      t.is(chsToLba(decodeChs(encodeChs(lba, geometry)), geometry), lba, `LBA ${lba}`);
    }
  }
  const small = { heads: 16, sectorsPerTrack: 63 };
  t.is(hex(encodeChs(1024 * 16 * 63, small)), '0fffff'); // the cap follows the geometry: 1023/15/63
});

test('impossible geometries and addresses are usage errors', (t) => {
  t.throws(() => encodeChs(5, { heads: 0, sectorsPerTrack: 63 }), { instanceOf: UsageError });
  t.throws(() => encodeChs(5, { heads: 255, sectorsPerTrack: 64 }), { instanceOf: UsageError });
  t.throws(() => encodeChs(-1), { instanceOf: UsageError });
  t.throws(() => packChs({ cylinder: 1024, head: 0, sector: 1 }), { instanceOf: UsageError, message: /1024\/0\/1/ });
});

/** Every used entry of the MBR and the EBRs: CHS bytes as stored vs computed from its absolute LBAs. */
async function chsOfFixture(name: 'bios-mbr' | 'mixed-mbr' | 'uefi-gpt') {
  const bytes = new Uint8Array(readFileSync(fixture(name).image));
  const tables = [0];
  if (name !== 'uefi-gpt') {
    const layout = await readMbrLayout(new MemoryDevice(bytes));
    tables.push(...layout.partitions.filter((p) => p.logical).map((p) => p.tableOffset));
  }
  const rows: Array<{ stored: Uint8Array; lba: number }> = [];
  for (const table of tables) {
    for (let i = 0; i < 4; i++) {
      const e = MbrPartitionEntry.decode(bytes, table + MBR_ENTRY_OFFSET + 16 * i);
      if (e.type === 0) continue;
      // Absolute start: relative to the EBR (entry 1) or to the extended partition (entry 2, in tables[1]).
      const base = table === 0 ? 0 : i === 0 ? table / 512 : tables[1]! / 512;
      const first = base + e.firstLba;
      rows.push({ stored: e.chsFirst, lba: first }, { stored: e.chsLast, lba: first + e.sectorCount - 1 });
    }
  }
  return rows;
}

for (const name of ['bios-mbr', 'mixed-mbr', 'uefi-gpt'] as const) {
  test(`${name}: the CHS bytes the partitioning tool wrote equal ours`, async (t) => {
    const rows = await chsOfFixture(name);
    t.true(rows.length >= (name === 'mixed-mbr' ? 14 : 2));
    for (const r of rows) {
      t.is(hex(encodeChs(r.lba)), hex(r.stored), `LBA ${r.lba}`);
      t.is(chsToLba(decodeChs(r.stored)), r.lba);
    }
  });
}

test('sfdisk caps CHS at FE FF FF beyond cylinder 1023, as we do', (t) => {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const image = join(scratch.dir, 'big.img');
  execFileSync('truncate', ['-s', '10G', image]);
  const script = 'label: dos\nlabel-id: 0x11223344\nstart=2048, size=16448512, type=7\nstart=16450560, size=1000000, type=7\n';
  execFileSync('sfdisk', ['-q', image], { input: script });
  const fd = new Uint8Array(512);
  const handle = openSync(image, 'r');
  readSync(handle, fd, 0, 512, 0);
  closeSync(handle);
  for (const [i, first, last] of [[0, 2048, 16450559], [1, 16450560, 17450559]] as const) {
    const e = MbrPartitionEntry.decode(fd, MBR_ENTRY_OFFSET + 16 * i);
    t.is(hex(e.chsFirst), hex(encodeChs(first)));
    t.is(hex(e.chsLast), hex(encodeChs(last)));
  }
  t.is(hex(MbrPartitionEntry.decode(fd, MBR_ENTRY_OFFSET + 16).chsFirst), 'feffff');
});
