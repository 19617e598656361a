/**
 * A read-only view of `parent` made longer: past the parent's end it reads zeros. The restore
 * planner opens an image's NTFS volume through it as if its partition were already the larger
 * one, so growing can be planned — and refused — before anything is written to the target.
 */
import { UsageError } from '../errors.ts';
import { checkRange, type ReadableDevice } from './block-device.ts';

export function zeroExtendedDevice(parent: ReadableDevice, size: number, label?: string): ReadableDevice {
  if (!Number.isSafeInteger(size) || size < parent.size) {
    throw new UsageError(`a zero-extended view of ${parent.name} must be at least its ${parent.size} bytes, not ${size}`, { device: parent.name, size });
  }
  const device: ReadableDevice = {
    name: label ?? `${parent.name} (extended to ${size} bytes)`,
    size,
    sectorSize: parent.sectorSize,
    writable: false,
    read: async (at: number, length: number) => {
      checkRange(device, at, length);
      const out = new Uint8Array(length);
      const inside = Math.max(0, Math.min(length, parent.size - at));
      if (inside > 0) out.set(await parent.read(at, inside));
      return out;
    },
    // The parent's owner closes it.
    close: async () => {},
  };
  return device;
}
