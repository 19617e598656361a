import test from 'ava';
import { MemoryDevice } from './memory-device.ts';
import { zeroExtendedDevice } from './zero-extended-device.ts';
import { OutOfRangeError, UsageError } from '../errors.ts';

const parent = () => new MemoryDevice(Uint8Array.from({ length: 4096 }, (_, i) => (i % 251) + 1)).readOnly();

test('reads the parent, then zeros up to the new size, across the boundary too', async (t) => {
  const p = parent();
  const d = zeroExtendedDevice(p, 10_000);
  t.is(d.size, 10_000);
  t.false(d.writable);
  t.deepEqual(await d.read(100, 50), await p.read(100, 50));
  const across = await d.read(4000, 200);
  t.deepEqual(across.subarray(0, 96), await p.read(4000, 96));
  t.true(across.subarray(96).every((b) => b === 0));
  t.true((await d.read(9000, 1000)).every((b) => b === 0));
});

test('refuses reads past its own end and sizes below the parent\'s', async (t) => {
  const d = zeroExtendedDevice(parent(), 8192);
  await t.throwsAsync(() => d.read(8000, 193), { instanceOf: OutOfRangeError });
  t.throws(() => zeroExtendedDevice(parent(), 4095), { instanceOf: UsageError });
});
