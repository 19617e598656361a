/**
 * Writing encoded partition-table sectors: in the order given, flushed, then read back and
 * compared byte for byte (STYLE.md #7), so a device that drops or reorders writes is caught
 * before anything trusts the table.
 */
import { DeviceIoError, UsageError } from '../errors.ts';
import { checkRange, type ReadableDevice, type WritableDevice } from '../device/block-device.ts';

export interface SectorWrite {
  /** Byte offset on the device. */
  offset: number;
  bytes: Uint8Array;
  /** For messages: "GPT backup header", "EBR of partition 6". */
  what: string;
}

export async function writeAndVerify(device: WritableDevice, writes: readonly SectorWrite[]): Promise<void> {
  for (const w of writes) {
    if (w.offset + w.bytes.length > device.size) {
      throw new UsageError(`${w.what} at byte ${w.offset} lies past the end of ${device.name} (${device.size} bytes)`,
        { device: device.name, offset: w.offset });
    }
  }
  for (const w of writes) await device.write(w.offset, w.bytes);
  await device.flush();
  for (const w of writes) {
    const back = await device.read(w.offset, w.bytes.length);
    if (Buffer.compare(back, w.bytes) !== 0) {
      throw new DeviceIoError(device.name, 'write', w.offset, new Error(`${w.what} reads back different from what was written`));
    }
  }
}

/**
 * A read-only device of `size` bytes holding only the given sectors (zeros elsewhere): lets
 * the encoders run the real `read*` decoders over what they produced without a disk.
 */
export function sparseDevice(size: number, sectorSize: number, sectors: ReadonlyMap<number, Uint8Array>): ReadableDevice {
  const device: ReadableDevice = {
    name: 'encoded table', size, sectorSize, writable: false,
    read: async (offset, length) => {
      checkRange(device, offset, length);
      const out = new Uint8Array(length);
      for (const [at, bytes] of sectors) {
        const from = Math.max(at, offset);
        const to = Math.min(at + bytes.length, offset + length);
        if (from < to) out.set(bytes.subarray(from - at, to - at), from - offset);
      }
      return out;
    },
    close: async () => {},
  };
  return device;
}
