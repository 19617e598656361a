/** Image files (and, on Linux, block device nodes opened as files) as devices. */
import { open, type FileHandle } from 'node:fs/promises';
import { DeviceIoError } from '../errors.ts';
import { checkRange, type ReadableDevice, type WritableDevice } from './block-device.ts';

export interface FileDeviceOptions {
  sectorSize?: number;
}

class FileDevice {
  readonly name: string;
  readonly size: number;
  readonly sectorSize: number;
  protected readonly handle: FileHandle;

  constructor(name: string, handle: FileHandle, size: number, sectorSize: number) {
    this.name = name;
    this.handle = handle;
    this.size = size;
    this.sectorSize = sectorSize;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        ({ bytesRead: n } = await this.handle.read(buf, done, length - done, offset + done));
      } catch (e) {
        throw new DeviceIoError(this.name, 'read', offset + done, e);
      }
      if (n === 0) throw new DeviceIoError(this.name, 'read', offset + done, new Error('file ended early (truncated while open?)'));
      done += n;
    }
    return buf;
  }

  async close(): Promise<void> {
    try {
      await this.handle.close();
    } catch (e) {
      throw new DeviceIoError(this.name, 'close', 0, e);
    }
  }
}

class WritableFileDevice extends FileDevice implements WritableDevice {
  readonly writable = true;

  async write(offset: number, data: Uint8Array): Promise<void> {
    checkRange(this, offset, data.length);
    let done = 0;
    while (done < data.length) {
      try {
        const { bytesWritten } = await this.handle.write(data, done, data.length - done, offset + done);
        done += bytesWritten;
      } catch (e) {
        throw new DeviceIoError(this.name, 'write', offset + done, e);
      }
    }
  }

  async flush(): Promise<void> {
    try {
      await this.handle.sync();
    } catch (e) {
      throw new DeviceIoError(this.name, 'flush', 0, e);
    }
  }
}

class ReadOnlyFileDevice extends FileDevice implements ReadableDevice {
  readonly writable = false;
}

export function openFileDevice(path: string, options?: FileDeviceOptions & { writable?: false }): Promise<ReadableDevice>;
export function openFileDevice(path: string, options: FileDeviceOptions & { writable: true }): Promise<WritableDevice>;
export async function openFileDevice(path: string, options: FileDeviceOptions & { writable?: boolean } = {}): Promise<ReadableDevice | WritableDevice> {
  let handle: FileHandle;
  try {
    handle = await open(path, options.writable ? 'r+' : 'r');
  } catch (e) {
    throw new DeviceIoError(path, 'open', 0, e);
  }
  const stat = await handle.stat();
  const sectorSize = options.sectorSize ?? 512;
  return options.writable
    ? new WritableFileDevice(path, handle, stat.size, sectorSize)
    : new ReadOnlyFileDevice(path, handle, stat.size, sectorSize);
}
