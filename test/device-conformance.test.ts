/**
 * One suite every BlockDevice implementation runs (STYLE.md 3): the same requests give the
 * same bytes and the same refusals. Native devices join by adding a factory here.
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDevice, openFileDevice, partitionDevice, OutOfRangeError, DeviceIoError, type ReadableDevice, type WritableDevice } from '../src/index.ts';

const SIZE = 1 << 20;
const pattern = () => Uint8Array.from({ length: SIZE }, (_, i) => (i * 7 + (i >> 9)) & 0xff);

interface Factory {
  name: string;
  /** A writable device over a copy of `pattern()`, and how to dispose of it. */
  make(): Promise<{ device: WritableDevice; readOnly: () => Promise<ReadableDevice>; dispose: () => Promise<void> }>;
}

const factories: Factory[] = [
  {
    name: 'memory',
    async make() {
      const device = new MemoryDevice(pattern());
      return { device, readOnly: async () => device.readOnly(), dispose: async () => {} };
    },
  },
  {
    name: 'file',
    async make() {
      const dir = mkdtempSync(join(tmpdir(), 'lifeboat-conf-'));
      const path = join(dir, 'disk.img');
      writeFileSync(path, pattern());
      const device = await openFileDevice(path, { writable: true });
      return {
        device,
        readOnly: () => openFileDevice(path),
        dispose: async () => { await device.close(); rmSync(dir, { recursive: true }); },
      };
    },
  },
  {
    name: 'partition window',
    async make() {
      // A window over the middle of a larger device, filled so that the window sees pattern().
      const parent = new MemoryDevice(new Uint8Array(SIZE + 8192));
      await parent.write(4096, pattern());
      const device = partitionDevice(parent, 4096, SIZE, 'window');
      return { device, readOnly: async () => partitionDevice(parent.readOnly(), 4096, SIZE), dispose: async () => {} };
    },
  },
];

for (const f of factories) {
  test(`${f.name}: reports size and sector size`, async (t) => {
    const { device, dispose } = await f.make();
    t.teardown(dispose);
    t.is(device.size, SIZE);
    t.is(device.sectorSize, 512);
    t.true(device.writable);
  });

  test(`${f.name}: reads exact bytes at any offset, including unaligned and empty reads`, async (t) => {
    const { device, dispose } = await f.make();
    t.teardown(dispose);
    const expected = pattern();
    for (const [offset, length] of [[0, 512], [1, 1000], [SIZE - 3, 3], [123_457, 65_536], [SIZE, 0]] as const) {
      t.deepEqual(await device.read(offset, length), expected.subarray(offset, offset + length), `${length} at ${offset}`);
    }
  });

  test(`${f.name}: writes land where asked and nowhere else`, async (t) => {
    const { device, dispose } = await f.make();
    t.teardown(dispose);
    const data = Uint8Array.from({ length: 3000 }, () => 0xa5);
    await device.write(10_001, data);
    await device.flush();
    const expected = pattern();
    expected.set(data, 10_001);
    t.deepEqual(await device.read(0, SIZE), expected);
  });

  test(`${f.name}: refuses reads and writes past the end with OutOfRangeError`, async (t) => {
    const { device, dispose } = await f.make();
    t.teardown(dispose);
    await t.throwsAsync(device.read(SIZE - 10, 11), { instanceOf: OutOfRangeError });
    await t.throwsAsync(device.read(-1, 1), { instanceOf: OutOfRangeError });
    await t.throwsAsync(device.read(0.5, 1), { instanceOf: OutOfRangeError });
    await t.throwsAsync(device.write(SIZE, Uint8Array.of(1)), { instanceOf: OutOfRangeError });
  });

  test(`${f.name}: the read-only form reads the same bytes and has no write`, async (t) => {
    const { readOnly, dispose } = await f.make();
    t.teardown(dispose);
    const ro = await readOnly();
    t.false(ro.writable);
    t.false('write' in ro);
    t.deepEqual(await ro.read(5000, 100), pattern().subarray(5000, 5100));
    await ro.close();
  });
}

test('file: a missing file is a DeviceIoError naming the path', async (t) => {
  const err = await t.throwsAsync(openFileDevice('/nonexistent/disk.img'), { instanceOf: DeviceIoError });
  t.regex(err!.message, /\/nonexistent\/disk\.img/);
  t.is(err!.code, 'DEVICE_IO');
});
