/**
 * Hostile hives: a real BCD store (hivex-written, from the uefi-gpt fixture's ESP) with random
 * bit flips and truncations, and hand-made cycles and bad pointers. The only acceptable outcomes
 * are values or LifeboatError subclasses (CorruptStructureError naming the structure and offset),
 * never a crash or a hang.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { scratchDir } from '../../test/helpers/tools.ts';
import { CorruptStructureError, LifeboatError } from '../errors.ts';
import { openHive, type Hive } from './hive.ts';
import { exercise, fixtureHive, rng } from './test-support.ts';

const scratch = scratchDir();
test.after.always(scratch.remove);
let original: Uint8Array | undefined;
const bcd = (): Uint8Array => {
  original ??= new Uint8Array(readFileSync(fixtureHive('uefi-gpt', 'bcd', scratch.dir).file));
  return new Uint8Array(original);
};

const BOOTMGR = '{9dea862c-5cdd-4e70-acc1-f32b344d4795}';

function fixChecksum(b: Uint8Array): void {
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  let x = 0;
  for (let i = 0; i < 0x1fc; i += 4) x ^= v.getUint32(i, true);
  v.setUint32(0x1fc, x >>> 0, true);
}

test('random bit flips and truncations give a value or a LifeboatError, quickly', (t) => {
  const probe = `Objects\\${BOOTMGR}\\Elements\\11000001`;
  const base = bcd();
  const binsEnd = 4096 + new DataView(base.buffer).getUint32(0x28, true);
  const outcomes = { ok: 0, corrupt: 0, other: 0 };
  const started = Date.now();
  for (let seed = 1; seed <= 600; seed++) {
    const r = rng(seed * 2654435761);
    let bytes = new Uint8Array(base);
    const kind = seed % 6;
    if (kind <= 3) {
      // 1–16 bit flips in the hive bins, where the cells are
      const flips = 1 + r(16);
      for (let i = 0; i < flips; i++) bytes[4096 + r(binsEnd - 4096)]! ^= 1 << r(8);
    } else if (kind === 4) {
      // base-block fields changed, checksum made right again
      for (let i = 0; i < 1 + r(3); i++) bytes[r(0x30)]! ^= 1 << r(8);
      fixChecksum(bytes);
    } else {
      // truncated, the bins size sometimes shrunk to match
      const length = r(binsEnd);
      bytes = bytes.subarray(0, length);
      if (length >= 4096 && r(2) === 0) {
        new DataView(bytes.buffer).setUint32(0x28, Math.max(4096, (length - 4096) & ~4095), true);
        fixChecksum(bytes);
      }
    }
    try {
      exercise(openHive(bytes, `fuzz ${seed}`), probe);
      outcomes.ok++;
    } catch (e) {
      if (e instanceof CorruptStructureError) outcomes.corrupt++;
      else if (e instanceof LifeboatError) outcomes.other++;
      else t.fail(`seed ${seed}: ${e instanceof Error ? e.stack : String(e)}`);
    }
  }
  t.log(outcomes, `${Date.now() - started} ms`);
  t.true(outcomes.ok > 0 && outcomes.corrupt > 0);
  t.true(Date.now() - started < 20000);
});

/** The file offset of key `path`'s nk cell body field at `field`. */
const nkField = (hive: Hive, path: string, field: number) => 4096 + hive.key(path)!.cellOffset + 4 + field;

test('cycles: an ri naming itself, a subkey naming its ancestor, a list naming the key itself', (t) => {
  const bytes = bcd();
  const hive = openHive(bytes, 'BCD');

  // The Objects key's subkeys list becomes an ri whose only leaf is itself.
  const objectsList = 4096 + hive.key('Objects')!.node.subkeysListOffset;
  const riCase = new Uint8Array(bytes);
  const rv = new DataView(riCase.buffer);
  riCase.set(Buffer.from('ri'), objectsList + 4);
  rv.setUint16(objectsList + 6, 1, true);
  rv.setUint32(objectsList + 8, objectsList - 4096, true);
  const e1 = t.throws(() => exercise(openHive(riCase, 'BCD')), { instanceOf: CorruptStructureError })!;
  t.is(e1.data.structure, 'subkeys list');
  t.is(e1.data.offset, objectsList);

  // Objects' first subkey replaced by the root: the root names another parent.
  const objects = hive.key('Objects')!;
  const toRoot = new Uint8Array(bytes);
  new DataView(toRoot.buffer).setUint32(4096 + objects.node.subkeysListOffset + 8, hive.root.cellOffset, true);
  const e2 = t.throws(() => exercise(openHive(toRoot, 'BCD')), { instanceOf: CorruptStructureError })!;
  t.is(e2.data.structure, 'nk');
  t.is(e2.data.offset, 4096 + hive.root.cellOffset);
  t.regex(e2.message, /parent/);

  // The same, with the root's parent field forged to agree: only walk()'s visited set sees the cycle.
  const forged = new Uint8Array(toRoot);
  new DataView(forged.buffer).setUint32(4096 + hive.root.cellOffset + 4 + 0x10, objects.cellOffset, true);
  const e3 = t.throws(() => exercise(openHive(forged, 'BCD')), { instanceOf: CorruptStructureError })!;
  t.regex(e3.message, /reached twice/);
  t.is(e3.data.offset, 4096 + hive.root.cellOffset);

  // The root lists itself as its own subkey (its parent field is not checked, being the root's).
  const self = new Uint8Array(bytes);
  const rootList = 4096 + hive.root.node.subkeysListOffset;
  new DataView(self.buffer).setUint32(rootList + 8, hive.root.cellOffset, true);
  t.regex(t.throws(() => exercise(openHive(self, 'BCD')), { instanceOf: CorruptStructureError })!.message, /itself/);
});

test('bad pointers and sizes name the structure and its file offset', (t) => {
  const bytes = bcd();
  const hive = openHive(bytes, 'BCD');
  const description = hive.key('Description')!;
  const at = (field: number) => 4096 + description.cellOffset + 4 + field;
  const cases: Array<[string, (v: DataView) => void, string]> = [
    ['values list offset outside the bins', (v) => v.setUint32(at(0x28), 0x7ffffff8, true), 'values list'],
    ['values list offset misaligned', (v) => v.setUint32(at(0x28), description.node.keyValuesListOffset + 2, true), 'values list'],
    ['value count far beyond its list cell', (v) => v.setUint32(at(0x24), 100000, true), 'values list'],
    ['subkey list pointing into a bin header', (v) => { v.setUint32(at(0x14), 1, true); v.setUint32(at(0x1c), 8, true); }, 'subkeys list'],
    ['key name longer than its cell', (v) => v.setUint16(at(0x48), 4000, true), 'nk'],
    ['inline data of 5 bytes', (v) => {
      const system = description.value('System')!;
      v.setUint32(4096 + system.cellOffset + 4 + 4, 0x80000005, true);
    }, 'vk'],
    ['data size beyond the hive', (v) => {
      const keyName = description.value('KeyName')!;
      v.setUint32(4096 + keyName.cellOffset + 4 + 4, 0x7fffffff, true);
    }, 'vk'],
    ['a value pointing at a free cell', (v) => {
      const keyName = description.value('KeyName')!;
      v.setInt32(4096 + keyName.dataCellOffset!, 24, true);
    }, 'value data'],
    ['hbin header signature', (v) => v.setUint32(4096, 0, true), 'hbin'],
  ];
  for (const [what, patch, structure] of cases) {
    const b = new Uint8Array(bytes);
    patch(new DataView(b.buffer));
    const e = t.throws(() => exercise(openHive(b, 'BCD')), { instanceOf: CorruptStructureError }, what)!;
    t.is(e.data.structure, structure, what);
    t.true(typeof e.data.offset === 'number' && e.data.offset >= 0 && e.data.offset < b.length + 0x80000000, what);
  }
});
