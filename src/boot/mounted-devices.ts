/**
 * `SYSTEM\MountedDevices` (shared/reference/boot-and-bcd.md 6.1): one REG_BINARY value per drive
 * letter (`\DosDevices\C:`) or volume GUID path (`\??\Volume{…}`), naming the volume by
 *   - MBR: 12 bytes, disk signature u32 + partition start in BYTES u64;
 *   - GPT: 24 bytes, ASCII `DMIO:ID:` + UniquePartitionGUID (mixed-endian);
 *   - anything else (`\??\USBSTOR#…`, `\??\IDE#CdRom…` as UTF-16LE, …): kept as raw bytes.
 * Encoding gives the same bytes back; only the MBR and GPT forms can be rewritten.
 */
import { ascii, guid, layout, u32le, u64le } from '../binary/layout.ts';
import { UsageError } from '../errors.ts';
import type { Hive, Value } from '../registry/index.ts';

export const MountedDeviceMbr = layout('MountedDevices MBR value', 12, {
  diskSignature: u32le(0x00),   // LBA 0 offset 0x1B8
  partitionOffset: u64le(0x04), // partition start in bytes
});

export const MountedDeviceGpt = layout('MountedDevices GPT value', 24, {
  magic: ascii(0x00, 8),        // "DMIO:ID:"
  partitionGuid: guid(0x08),    // UniquePartitionGUID
});

export const DMIO_MAGIC = 'DMIO:ID:';
export const MOUNTED_DEVICES_KEY = 'MountedDevices';

export type MountedDevice =
  | { kind: 'mbr'; diskSignature: number; partitionOffset: bigint }
  | { kind: 'gpt'; partitionGuid: string }
  /** `text`: the data read as UTF-16LE when it has an even length (device paths), for display. */
  | { kind: 'other'; raw: Uint8Array; text?: string };

const hasDmioMagic = (data: Uint8Array) =>
  data.length === MountedDeviceGpt.size && Buffer.from(data.subarray(0, 8)).toString('latin1') === DMIO_MAGIC;

/** Never throws: data of neither partition form is `other`, raw. */
export function decodeMountedDevice(data: Uint8Array): MountedDevice {
  if (data.length === MountedDeviceMbr.size) {
    const m = MountedDeviceMbr.decode(data);
    return { kind: 'mbr', diskSignature: m.diskSignature, partitionOffset: m.partitionOffset };
  }
  if (hasDmioMagic(data)) return { kind: 'gpt', partitionGuid: MountedDeviceGpt.decode(data).partitionGuid };
  const raw = Uint8Array.from(data);
  return data.length % 2 === 0 ? { kind: 'other', raw, text: Buffer.from(raw).toString('utf16le') } : { kind: 'other', raw };
}

export function encodeMountedDevice(device: MountedDevice): Uint8Array {
  switch (device.kind) {
    case 'mbr':
      if (!Number.isInteger(device.diskSignature) || device.diskSignature < 0 || device.diskSignature > 0xffffffff) {
        throw new UsageError(`MBR disk signature ${device.diskSignature} is not a 32-bit unsigned number`);
      }
      if (device.partitionOffset < 0n || device.partitionOffset >= 1n << 64n) {
        throw new UsageError(`partition offset ${device.partitionOffset} is not a 64-bit unsigned number`);
      }
      return MountedDeviceMbr.encode({ diskSignature: device.diskSignature, partitionOffset: device.partitionOffset });
    case 'gpt':
      return MountedDeviceGpt.encode({ magic: DMIO_MAGIC, partitionGuid: device.partitionGuid });
    case 'other':
      return Uint8Array.from(device.raw);
  }
}

export interface MountedDeviceEntry {
  /** Value name, e.g. `\DosDevices\C:` or `\??\Volume{…}`. */
  name: string;
  /** Registry type (REG_BINARY = 3 normally); kept for the report. */
  type: number;
  data: Uint8Array;
  device: MountedDevice;
  value: Value;
}

/** Every value of `MountedDevices` in the SYSTEM hive, decoded; [] when the key is missing. */
export function readMountedDevices(system: Hive): MountedDeviceEntry[] {
  const key = system.key(MOUNTED_DEVICES_KEY);
  if (!key) return [];
  return key.values().map((value) => {
    const data = Uint8Array.from(value.data);
    return { name: value.name, type: value.type, data, device: decodeMountedDevice(data), value };
  });
}
