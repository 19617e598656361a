/**
 * BCD device element data (element format 1, REG_BINARY): shared/reference/boot-and-bcd.md 4.6.
 * A 16-byte "associated object" GUID, then a device descriptor (type, flags, size, body).
 *
 * Only the partition device (type 6) is modelled for rewriting: its partition style (on disk
 * GPT = 0, MBR = 1 — the opposite of WMI's enum, the "partition-style trap"), the MBR disk
 * signature + partition byte offset or the GPT disk + partition GUIDs. Every other form (boot,
 * ramdisk, file, locate/VHD, unknown) keeps its bytes as they are and is flagged not rewritable;
 * a ramdisk's parent partition is decoded for reporting only.
 *
 * Encoding starts from the element's own bytes and writes only the modelled fields, so padding
 * and fields we do not interpret survive a round trip byte for byte.
 */
import { guid, layout, u32le, u64le } from '../binary/layout.ts';
import { CorruptStructureError, UsageError } from '../errors.ts';

/** Element prefix + descriptor header (the descriptor begins at 0x10). */
export const BcdDeviceHeader = layout('BCD device element', 0x20, {
  associatedObject: guid(0x00), // options object (ramdisk options); all zero if none
  deviceType: u32le(0x10),      // on-disk type: 0 block I/O, 5 boot, 6 partition, 8 locate
  flags: u32le(0x14),           // 1 on ramdisk devices
  size: u32le(0x18),            // descriptor length including its 16-byte header
  reserved: u32le(0x1c),        // 0
});

/**
 * Partition descriptor (type 6), 0x48 bytes, relative to the descriptor (element offset 0x10,
 * or 0x44 inside a ramdisk device). The two identity areas are a union: see the two tables below.
 */
export const PartitionDescriptor = layout('BCD partition device', 0x48, {
  deviceType: u32le(0x00),      // 6
  flags: u32le(0x04),           // 0
  size: u32le(0x08),            // 0x48
  reserved: u32le(0x0c),        // 0
  // 0x10..0x1f partition identity (union below)
  reserved2: u32le(0x20),       // 0
  partitionStyle: u32le(0x24),  // ON DISK: 0 GPT, 1 MBR (WMI's PartitionStyle is the reverse)
  // 0x28..0x37 disk identity (union below); 0x38..0x47 zero, kept as found
});

/** MBR arm of the union: byte offset then 8 bytes kept; signature then 12 bytes kept. */
export const MbrPartitionIds = layout('BCD partition device (MBR ids)', 0x48, {
  partitionOffset: u64le(0x10), // partition start in BYTES (start LBA × logical sector size)
  diskSignature: u32le(0x28),   // MBR disk signature (LBA 0 offset 0x1B8)
});

/** GPT arm of the union: mixed-endian GUIDs. */
export const GptPartitionIds = layout('BCD partition device (GPT ids)', 0x48, {
  partitionGuid: guid(0x10),    // UniquePartitionGUID
  diskGuid: guid(0x28),         // GPT header DiskGUID
});

/** Ramdisk device (type 0, local type 3), element offsets; parent descriptor at 0x44, path after it. */
export const RamdiskDevice = layout('BCD ramdisk device', 0x44, {
  localType: u32le(0x20),       // 3 ramdisk, 5 file
  filePathVersion: u32le(0x38), // 1
  filePathLength: u32le(0x3c),  // element length - 0x38
  pathType: u32le(0x40),        // 5: parent device + path
});

export const DEVICE_TYPE = { blockIo: 0, boot: 5, partition: 6, locate: 8 } as const;
export const PARTITION_STYLE = { gpt: 0, mbr: 1 } as const;
export const LOCAL_DEVICE_TYPE = { ramdisk: 3, file: 5 } as const;
const DESCRIPTOR_OFFSET = 0x10;
const RAMDISK_PARENT_OFFSET = 0x44;
/** Device element data is never near this long; longer data is refused before any work. */
export const MAX_DEVICE_ELEMENT = 0x10000;

export type PartitionIdentity =
  | { style: 'mbr'; diskSignature: number; partitionOffset: bigint }
  | { style: 'gpt'; diskGuid: string; partitionGuid: string };

interface DeviceBase {
  /** Lower-case GUID without braces; all zero when the device names no options object. */
  associatedObject: string;
  deviceType: number;
  /** The element data exactly as read; encoding starts from it. */
  raw: Uint8Array;
}

export type BcdDevice =
  | (DeviceBase & { kind: 'partition'; rewritable: true; partition: PartitionIdentity })
  | (DeviceBase & { kind: 'ramdisk'; rewritable: false; parent: RamdiskParent; path: string })
  | (DeviceBase & { kind: 'boot' | 'file' | 'locate' | 'unknown'; rewritable: false; reason: string });

export type RamdiskParent =
  | { kind: 'partition'; partition: PartitionIdentity }
  | { kind: 'boot' }
  | { kind: 'other'; deviceType: number };

const fail = (offset: number, problem: string, data: Record<string, number> = {}) =>
  new CorruptStructureError('BCD device element', offset, problem, data);

/** Decode a partition descriptor at `at`; `unknownStyle` for a partition style we do not know. */
function decodePartition(data: Uint8Array, at: number): PartitionIdentity | { unknownStyle: number } {
  const d = PartitionDescriptor.decode(data, at);
  if (d.size < PartitionDescriptor.size) {
    throw fail(at + 0x08, `partition descriptor declares ${d.size} bytes, a partition needs ${PartitionDescriptor.size}`, { size: d.size });
  }
  if (d.partitionStyle === PARTITION_STYLE.mbr) {
    const ids = MbrPartitionIds.decode(data, at);
    return { style: 'mbr', diskSignature: ids.diskSignature, partitionOffset: ids.partitionOffset };
  }
  if (d.partitionStyle === PARTITION_STYLE.gpt) {
    const ids = GptPartitionIds.decode(data, at);
    return { style: 'gpt', diskGuid: ids.diskGuid, partitionGuid: ids.partitionGuid };
  }
  return { unknownStyle: d.partitionStyle };
}

/**
 * Decode a device element. Checks, in order: length against the header and the cap, the
 * descriptor size against the data, then the type-specific body. Throws CorruptStructureError.
 */
export function decodeBcdDevice(data: Uint8Array): BcdDevice {
  if (data.length > MAX_DEVICE_ELEMENT) throw fail(0, `${data.length} bytes, more than the ${MAX_DEVICE_ELEMENT} a device element may have`);
  if (data.length < BcdDeviceHeader.size) throw fail(0, `${data.length} bytes, shorter than the ${BcdDeviceHeader.size}-byte header`);
  const h = BcdDeviceHeader.decode(data);
  if (h.size < BcdDeviceHeader.size - DESCRIPTOR_OFFSET || DESCRIPTOR_OFFSET + h.size > data.length) {
    throw fail(0x18, `descriptor size ${h.size} does not fit between 16 and the ${data.length - DESCRIPTOR_OFFSET} bytes present`, { size: h.size });
  }
  const raw = Uint8Array.from(data);
  const base = { associatedObject: h.associatedObject, deviceType: h.deviceType, raw };
  switch (h.deviceType) {
    case DEVICE_TYPE.partition: {
      const p = decodePartition(data, DESCRIPTOR_OFFSET);
      if ('unknownStyle' in p) return { ...base, kind: 'unknown', rewritable: false, reason: `partition style ${p.unknownStyle} is neither GPT (0) nor MBR (1)` };
      return { ...base, kind: 'partition', rewritable: true, partition: p };
    }
    case DEVICE_TYPE.boot:
      return { ...base, kind: 'boot', rewritable: false, reason: 'the boot device (where bootmgr was loaded from) names no disk' };
    case DEVICE_TYPE.locate:
      return { ...base, kind: 'locate', rewritable: false, reason: 'locate/VHD devices are left opaque' };
    case DEVICE_TYPE.blockIo:
      return decodeBlockIo(data, base);
    default:
      return { ...base, kind: 'unknown', rewritable: false, reason: `device type ${h.deviceType} is not modelled` };
  }
}

function decodeBlockIo(data: Uint8Array, base: DeviceBase): BcdDevice {
  if (data.length < 0x24) throw fail(0x20, `block-I/O device of ${data.length} bytes has no local device type`);
  const localType = new DataView(data.buffer, data.byteOffset + 0x20, 4).getUint32(0, true);
  if (localType === LOCAL_DEVICE_TYPE.file) return { ...base, kind: 'file', rewritable: false, reason: 'file devices are left opaque' };
  if (localType !== LOCAL_DEVICE_TYPE.ramdisk) return { ...base, kind: 'unknown', rewritable: false, reason: `block-I/O local type ${localType} is not modelled` };
  const r = RamdiskDevice.decode(data);
  if (r.filePathLength !== data.length - 0x38) {
    throw fail(0x3c, `ramdisk path descriptor declares ${r.filePathLength} bytes, ${data.length - 0x38} follow`, { declared: r.filePathLength });
  }
  if (data.length < RAMDISK_PARENT_OFFSET + 0x10) throw fail(RAMDISK_PARENT_OFFSET, 'ramdisk device ends before its parent descriptor');
  const parentHeader = PartitionDescriptor.fields;
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  const parentType = view.getUint32(RAMDISK_PARENT_OFFSET + parentHeader.deviceType.offset, true);
  const parentSize = view.getUint32(RAMDISK_PARENT_OFFSET + parentHeader.size.offset, true);
  if (parentSize < 0x10 || RAMDISK_PARENT_OFFSET + parentSize > data.length) {
    throw fail(RAMDISK_PARENT_OFFSET + 0x08, `ramdisk parent descriptor size ${parentSize} does not fit the ${data.length - RAMDISK_PARENT_OFFSET} bytes left`, { size: parentSize });
  }
  let parent: RamdiskParent;
  if (parentType === DEVICE_TYPE.partition) {
    const p = decodePartition(data, RAMDISK_PARENT_OFFSET);
    parent = 'unknownStyle' in p ? { kind: 'other', deviceType: parentType } : { kind: 'partition', partition: p };
  } else {
    parent = parentType === DEVICE_TYPE.boot ? { kind: 'boot' } : { kind: 'other', deviceType: parentType };
  }
  const pathBytes = data.subarray(RAMDISK_PARENT_OFFSET + parentSize);
  const text = Buffer.from(pathBytes.subarray(0, pathBytes.length & ~1)).toString('utf16le');
  const nul = text.indexOf('\0');
  const path = nul < 0 ? text : text.slice(0, nul);
  return { ...base, kind: 'ramdisk', rewritable: false, parent, path };
}

/** Unsigned 32-bit integer check for signatures. */
const isU32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;

/**
 * The element's bytes: the original bytes with, for a partition device, the identity fields
 * written over them. When the style changes, the identity areas are cleared first, so no byte
 * of the old identity's union arm survives.
 */
export function encodeBcdDevice(device: BcdDevice): Uint8Array {
  const out = Uint8Array.from(device.raw);
  if (device.kind !== 'partition') return out;
  const before = PartitionDescriptor.decode(out, DESCRIPTOR_OFFSET);
  const p = device.partition;
  const style = PARTITION_STYLE[p.style];
  if (before.partitionStyle !== style) {
    out.fill(0, DESCRIPTOR_OFFSET + 0x10, DESCRIPTOR_OFFSET + 0x20);
    out.fill(0, DESCRIPTOR_OFFSET + 0x28, DESCRIPTOR_OFFSET + 0x38);
    PartitionDescriptor.encodeInto({ ...before, partitionStyle: style }, out, DESCRIPTOR_OFFSET);
  }
  if (p.style === 'mbr') {
    if (!isU32(p.diskSignature)) throw new UsageError(`MBR disk signature ${p.diskSignature} is not a 32-bit unsigned number`);
    if (p.partitionOffset < 0n || p.partitionOffset >= 1n << 64n) throw new UsageError(`partition offset ${p.partitionOffset} is not a 64-bit unsigned number`);
    MbrPartitionIds.encodeInto({ partitionOffset: p.partitionOffset, diskSignature: p.diskSignature }, out, DESCRIPTOR_OFFSET);
  } else {
    GptPartitionIds.encodeInto({ partitionGuid: p.partitionGuid, diskGuid: p.diskGuid }, out, DESCRIPTOR_OFFSET);
  }
  return out;
}

/** The same partition device naming another partition (a new value; `device` is not changed). */
export function withPartition(device: BcdDevice & { kind: 'partition' }, partition: PartitionIdentity): BcdDevice & { kind: 'partition' } {
  const moved = { ...device, partition };
  return { ...moved, raw: encodeBcdDevice(moved) };
}

/** A fresh 88-byte partition device (what bcdedit writes for `partition=X:`). */
export function newPartitionDevice(partition: PartitionIdentity): Uint8Array {
  const raw = new Uint8Array(DESCRIPTOR_OFFSET + PartitionDescriptor.size);
  BcdDeviceHeader.encodeInto({ associatedObject: '00000000-0000-0000-0000-000000000000', deviceType: DEVICE_TYPE.partition, flags: 0, size: PartitionDescriptor.size, reserved: 0 }, raw);
  return encodeBcdDevice({ kind: 'partition', rewritable: true, associatedObject: '', deviceType: DEVICE_TYPE.partition, raw, partition });
}

/** Same identity (signature and offset, or both GUIDs, compared case-insensitively). */
export function sameIdentity(a: PartitionIdentity, b: PartitionIdentity): boolean {
  if (a.style === 'mbr' && b.style === 'mbr') return a.diskSignature === b.diskSignature && a.partitionOffset === b.partitionOffset;
  if (a.style === 'gpt' && b.style === 'gpt') {
    return a.diskGuid.toLowerCase() === b.diskGuid.toLowerCase() && a.partitionGuid.toLowerCase() === b.partitionGuid.toLowerCase();
  }
  return false;
}
