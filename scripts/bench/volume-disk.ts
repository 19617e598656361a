/**
 * The bench volume as Lifeboat meets volumes: a partition of an MBR disk. The disk is virtual —
 * 1 MiB holding an MBR with one NTFS partition (type 0x07) at LBA 2048, then the volume file
 * itself — so Lifeboat and ntfsclone read the very same file through the same page cache, and
 * no 4 GiB copy is kept. Reads past the first MiB go straight to the file.
 */
import { openFileDevice, type ReadableDevice } from '../../src/index.ts';

const MIB = 1 << 20;
const SECTOR = 512;

function mbr(volumeBytes: number): Uint8Array {
  const head = new Uint8Array(MIB);
  const view = new DataView(head.buffer);
  view.setUint32(0x1b8, 0x4c424e43, true); // disk signature "CNBL"
  const entry = 0x1be;
  head[entry + 4] = 0x07; // NTFS / exFAT / IFS
  view.setUint32(entry + 8, MIB / SECTOR, true);
  view.setUint32(entry + 12, volumeBytes / SECTOR, true);
  // CHS fields left at 0xFE 0xFF 0xFF: beyond CHS, as partitioning tools write for large disks.
  head.set([0xfe, 0xff, 0xff], entry + 1);
  head.set([0xfe, 0xff, 0xff], entry + 5);
  head[510] = 0x55;
  head[511] = 0xaa;
  return head;
}

export async function openVolumeAsDisk(volumePath: string): Promise<ReadableDevice> {
  const volume = await openFileDevice(volumePath);
  const head = mbr(volume.size);
  const size = MIB + volume.size;
  const device: ReadableDevice = {
    name: `${volumePath} (as partition 1 of an MBR disk)`,
    size,
    sectorSize: SECTOR,
    writable: false,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (offset < 0 || length < 0 || offset + length > size) throw new RangeError(`read of ${length} bytes at ${offset} past ${size}`);
      if (offset >= MIB) return volume.read(offset - MIB, length);
      if (offset + length <= MIB) return head.slice(offset, offset + length);
      const out = new Uint8Array(length);
      out.set(head.subarray(offset), 0);
      out.set(await volume.read(0, offset + length - MIB), MIB - offset);
      return out;
    },
    close: () => volume.close(),
  };
  return device;
}
