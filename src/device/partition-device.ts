/** A window onto part of a parent device: one partition, addressed from its first byte. */
import { UsageError } from '../errors.ts';
import { checkRange, type ReadableDevice, type WritableDevice } from './block-device.ts';

export function partitionDevice(parent: WritableDevice, offset: number, size: number, label?: string): WritableDevice;
export function partitionDevice(parent: ReadableDevice, offset: number, size: number, label?: string): ReadableDevice;
export function partitionDevice(parent: ReadableDevice, offset: number, size: number, label?: string): ReadableDevice {
  if (offset < 0 || size < 0 || offset + size > parent.size) {
    throw new UsageError(`partition window of ${size} bytes at byte ${offset} exceeds ${parent.name} (${parent.size} bytes)`,
      { device: parent.name, offset, size });
  }
  const window = {
    name: label ?? `${parent.name} @${offset}`,
    size,
    sectorSize: parent.sectorSize,
    read: async (at: number, length: number) => {
      checkRange(window, at, length);
      return parent.read(offset + at, length);
    },
    // Closing a window leaves the parent open: the parent's owner closes it.
    close: async () => {},
  };
  if (!parent.writable) return { ...window, writable: false };
  const writable = parent as WritableDevice;
  const result: WritableDevice = {
    ...window,
    writable: true,
    write: async (at: number, data: Uint8Array) => {
      checkRange(window, at, data.length);
      return writable.write(offset + at, data);
    },
    flush: () => writable.flush(),
  };
  return result;
}
