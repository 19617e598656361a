import test from 'ava';
import { fixture, FIXTURE_NAMES } from '../../test/helpers/fixtures.ts';
import { openFileDevice } from '../device/file-device.ts';
import { partitionDevice } from '../device/partition-device.ts';
import { probeBytes, probeFilesystem } from './probe.ts';

for (const name of FIXTURE_NAMES) {
  test(`${name}: each volume probes as the filesystem the fixture script made`, async (t) => {
    const { image, manifest } = fixture(name);
    const disk = await openFileDevice(image, { sectorSize: manifest.sectorSize });
    t.teardown(() => disk.close());
    for (const p of manifest.partitions) {
      const volume = partitionDevice(disk, p.startLba * manifest.sectorSize, p.sizeLba * manifest.sectorSize);
      const expected = p.fs === 'none' ? 'unknown' : p.fs;
      t.is(await probeFilesystem(volume) as string, expected, `partition ${p.index}`);
    }
  });
}

test('blank, short and random inputs probe as unknown', (t) => {
  t.is(probeBytes(new Uint8Array(0)), 'unknown');
  t.is(probeBytes(new Uint8Array(100)), 'unknown');
  t.is(probeBytes(new Uint8Array(8192)), 'unknown');
  const sector = new Uint8Array(512);
  sector.set([0xeb, 0x3c, 0x90], 0);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  t.is(probeBytes(sector), 'unknown', 'a boot signature without a consistent BPB is not FAT');
});

test('ReFS, ext and swap signatures are recognised', (t) => {
  const refs = new Uint8Array(8192);
  refs.set(Buffer.from('ReFS\0\0\0\0'), 3);
  refs.set(Buffer.from('FSRS'), 16);
  t.is(probeBytes(refs), 'refs');
  const ext = new Uint8Array(8192);
  ext.set([0x53, 0xef], 1024 + 56);
  t.is(probeBytes(ext), 'ext');
  const swap = new Uint8Array(8192);
  swap.set(Buffer.from('SWAPSPACE2'), 4086);
  t.is(probeBytes(swap), 'swap');
});

test('BitLocker To Go: a FAT32-looking boot sector with the BitLocker GUID at 0x1a8', (t) => {
  const b = new Uint8Array(8192);
  b.set([0xeb, 0x58, 0x90], 0);
  b.set(Buffer.from('MSWIN4.1'), 3);
  // 4967d63b-2e29-4ad8-8399-f6a339e3d001 in on-disk (mixed-endian) order
  b.set([0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a, 0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01], 0x1a8);
  b[510] = 0x55;
  b[511] = 0xaa;
  t.is(probeBytes(b), 'bitlocker');
  b[0x1a8] = 0;
  t.not(probeBytes(b), 'bitlocker');
});

test('Vista BitLocker (jump EB 52 90) is recognised by its OEM id too', (t) => {
  const b = new Uint8Array(8192);
  b.set([0xeb, 0x52, 0x90], 0);
  b.set(Buffer.from('-FVE-FS-'), 3);
  t.is(probeBytes(b), 'bitlocker');
});
