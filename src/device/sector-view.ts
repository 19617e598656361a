/** The same device seen with another logical sector size (an image file whose size we detected). */
import type { ReadableDevice } from './block-device.ts';

export function withSectorSize(device: ReadableDevice, sectorSize: number): ReadableDevice {
  return {
    name: device.name, size: device.size, sectorSize, writable: false,
    read: (offset, length) => device.read(offset, length),
    close: () => device.close(),
  };
}
