/**
 * The one way the engine touches disks and image files. Read-only and writable devices are
 * distinct types, so a backup source cannot be written by mistake: a function that writes
 * asks for a WritableDevice, and `openFileDevice(path)` without `{ writable: true }` gives none.
 */
import { OutOfRangeError } from '../errors.ts';

export interface ReadableDevice {
  /** For messages: a path, `\\.\PhysicalDrive1`, `memory`, `disk.img partition 2`. */
  readonly name: string;
  /** Length in bytes. */
  readonly size: number;
  /** Logical sector size in bytes (512 or 4096). */
  readonly sectorSize: number;
  readonly writable: boolean;
  /** Exactly `length` bytes from `offset`; throws OutOfRangeError past the end. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface WritableDevice extends ReadableDevice {
  readonly writable: true;
  write(offset: number, data: Uint8Array): Promise<void>;
  flush(): Promise<void>;
}

export type BlockDevice = ReadableDevice | WritableDevice;

/** Shared argument check: every implementation refuses the same requests the same way. */
export function checkRange(device: { name: string; size: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0
      || offset + length > device.size) {
    throw new OutOfRangeError(device.name, offset, length, device.size);
  }
}
