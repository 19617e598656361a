/**
 * UEFI boot entries (boot-and-bcd.md 7.2–7.3): an EFI_LOAD_OPTION — attributes, description,
 * a device path `HD(partition)/File(\EFI\Microsoft\Boot\bootmgfw.efi)/End`, optional data — as
 * the `Boot####` variables of EFI_GLOBAL_VARIABLE hold it, and `BootOrder`. Encoding only
 * builds bytes; writing firmware variables is the native layer's job.
 */
import { formatGuid, parseGuid } from '../binary/guid.ts';
import { bytes, layout, u16le, u32le, u64le, u8 } from '../binary/layout.ts';
import { CorruptStructureError, UsageError } from '../errors.ts';

export const EFI_GLOBAL_VARIABLE = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
/** NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS. */
export const BOOT_VARIABLE_ATTRIBUTES = 0x7;
export const LOAD_OPTION_ACTIVE = 0x1;
export const WINDOWS_BOOT_MANAGER = 'Windows Boot Manager';
export const BOOTMGFW_PATH = '\\EFI\\Microsoft\\Boot\\bootmgfw.efi';
/** {bootmgr}: the BCD object bootmgfw.efi starts from. */
const BOOTMGR_OBJECT = '{9dea862c-5cdd-4e70-acc1-f32b344d4795}';

export const EfiLoadOptionHeader = layout('EFI_LOAD_OPTION', 6, {
  attributes: u32le(0x00),
  filePathListLength: u16le(0x04),
});

export const DevicePathNodeHeader = layout('EFI_DEVICE_PATH_PROTOCOL', 4, {
  type: u8(0x00),
  subType: u8(0x01),
  length: u16le(0x02),
});

/** HARDDRIVE_DEVICE_PATH (media type 4, subtype 1). */
export const HardDriveNode = layout('HARDDRIVE_DEVICE_PATH', 42, {
  type: u8(0x00),
  subType: u8(0x01),
  length: u16le(0x02),
  partitionNumber: u32le(0x04),
  partitionStart: u64le(0x08),
  partitionSize: u64le(0x10),
  signature: bytes(0x18, 16),
  mbrType: u8(0x28),
  signatureType: u8(0x29),
});

const MEDIA = 0x04;
const HARD_DRIVE = 0x01;
const FILE_PATH = 0x04;
const END = 0x7f;
const END_ENTIRE = 0xff;
const MBR_TYPE = { mbr: 1, gpt: 2 } as const;
const SIGNATURE_TYPE = { mbr: 1, guid: 2 } as const;

export type PartitionSignature = { scheme: 'gpt'; partitionGuid: string } | { scheme: 'mbr'; diskSignature: number };

export interface HardDrive {
  /** 1-based index in the partition table. */
  partitionNumber: number;
  startLba: number;
  sizeLba: number;
  signature: PartitionSignature;
}

export type DevicePathNode =
  | { kind: 'hard-drive'; drive: HardDrive }
  | { kind: 'file'; path: string }
  | { kind: 'other'; type: number; subType: number; data: Uint8Array };

export interface LoadOption {
  attributes: number;
  description: string;
  filePath: DevicePathNode[];
  optionalData: Uint8Array;
}

const utf16z = (text: string): Uint8Array => new Uint8Array(Buffer.from(`${text}\0`, 'utf16le'));

function encodeNode(node: DevicePathNode): Uint8Array {
  if (node.kind === 'hard-drive') {
    const d = node.drive;
    const signature = new Uint8Array(16);
    if (d.signature.scheme === 'gpt') {
      signature.set(parseGuid(d.signature.partitionGuid));
    } else {
      new DataView(signature.buffer).setUint32(0, d.signature.diskSignature, true);
    }
    return HardDriveNode.encode({
      type: MEDIA, subType: HARD_DRIVE, length: HardDriveNode.size, partitionNumber: d.partitionNumber,
      partitionStart: BigInt(d.startLba), partitionSize: BigInt(d.sizeLba), signature,
      mbrType: MBR_TYPE[d.signature.scheme], signatureType: d.signature.scheme === 'gpt' ? SIGNATURE_TYPE.guid : SIGNATURE_TYPE.mbr,
    });
  }
  const [type, subType, data] = node.kind === 'file' ? [MEDIA, FILE_PATH, utf16z(node.path)] : [node.type, node.subType, node.data];
  const length = DevicePathNodeHeader.size + data.length;
  if (length > 0xffff) throw new UsageError(`a device path node of ${length} bytes does not fit its 16-bit length`);
  const out = new Uint8Array(length);
  DevicePathNodeHeader.encodeInto({ type, subType, length }, out);
  out.set(data, DevicePathNodeHeader.size);
  return out;
}

const endNode = () => DevicePathNodeHeader.encode({ type: END, subType: END_ENTIRE, length: DevicePathNodeHeader.size });

export function encodeLoadOption(option: LoadOption): Uint8Array {
  const path = Buffer.concat([...option.filePath.map(encodeNode), endNode()]);
  if (path.length > 0xffff) throw new UsageError(`a device path of ${path.length} bytes does not fit FilePathListLength`);
  const description = utf16z(option.description);
  const out = new Uint8Array(EfiLoadOptionHeader.size + description.length + path.length + option.optionalData.length);
  EfiLoadOptionHeader.encodeInto({ attributes: option.attributes, filePathListLength: path.length }, out);
  out.set(description, EfiLoadOptionHeader.size);
  out.set(path, EfiLoadOptionHeader.size + description.length);
  out.set(option.optionalData, EfiLoadOptionHeader.size + description.length + path.length);
  return out;
}

export function decodeLoadOption(bytes: Uint8Array): LoadOption {
  const h = EfiLoadOptionHeader.decode(bytes);
  let at = EfiLoadOptionHeader.size;
  let end = at;
  while (end + 1 < bytes.length && (bytes[end] !== 0 || bytes[end + 1] !== 0)) end += 2;
  if (end + 1 >= bytes.length) throw new CorruptStructureError('EFI_LOAD_OPTION', at, 'the description has no terminating NUL');
  const description = Buffer.from(bytes.subarray(at, end)).toString('utf16le');
  at = end + 2;
  const pathEnd = at + h.filePathListLength;
  if (pathEnd > bytes.length) throw new CorruptStructureError('EFI_LOAD_OPTION', 4, `FilePathListLength ${h.filePathListLength} runs past the option's ${bytes.length} bytes`);
  const filePath: DevicePathNode[] = [];
  let ended = false;
  while (at < pathEnd) {
    const n = DevicePathNodeHeader.decode(bytes, at);
    if (n.length < DevicePathNodeHeader.size || at + n.length > pathEnd) throw new CorruptStructureError('EFI device path node', at, `length ${n.length} does not fit the path`);
    const data = bytes.slice(at + DevicePathNodeHeader.size, at + n.length);
    if (n.type === END && n.subType === END_ENTIRE) {
      ended = true;
      at += n.length;
      break;
    }
    if (n.type === MEDIA && n.subType === HARD_DRIVE && n.length === HardDriveNode.size) {
      const d = HardDriveNode.decode(bytes, at);
      const signature: PartitionSignature = d.signatureType === SIGNATURE_TYPE.guid
        ? { scheme: 'gpt', partitionGuid: formatGuid(d.signature) }
        : { scheme: 'mbr', diskSignature: new DataView(d.signature.buffer, d.signature.byteOffset, 16).getUint32(0, true) };
      filePath.push({ kind: 'hard-drive', drive: { partitionNumber: d.partitionNumber, startLba: Number(d.partitionStart), sizeLba: Number(d.partitionSize), signature } });
    } else if (n.type === MEDIA && n.subType === FILE_PATH) {
      filePath.push({ kind: 'file', path: Buffer.from(data).toString('utf16le').replace(/\0+$/, '') });
    } else {
      filePath.push({ kind: 'other', type: n.type, subType: n.subType, data });
    }
    at += n.length;
  }
  if (!ended || at !== pathEnd) throw new CorruptStructureError('EFI device path', at, 'does not end with an end-of-path node at FilePathListLength');
  return { attributes: h.attributes, description, filePath, optionalData: bytes.slice(pathEnd) };
}

/**
 * The optional data Windows' own entries carry: "WINDOWS\0", version 1, total length, offset of
 * a trailing file-path descriptor, `BCDOBJECT={bootmgr}` in UTF-16, then that descriptor (an
 * empty device path) — 136 bytes (boot-and-bcd.md 7.3).
 */
export function windowsOptionalData(): Uint8Array {
  const object = utf16z(`BCDOBJECT=${BOOTMGR_OBJECT}`);
  const descriptorAt = Math.ceil((20 + object.length) / 4) * 4;
  const total = descriptorAt + 12 + DevicePathNodeHeader.size;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  out.set(Buffer.from('WINDOWS\0', 'latin1'), 0);
  v.setUint32(8, 1, true);
  v.setUint32(12, total, true);
  v.setUint32(16, descriptorAt, true);
  out.set(object, 20);
  v.setUint32(descriptorAt, 1, true);
  v.setUint32(descriptorAt + 4, 0x10, true);
  v.setUint32(descriptorAt + 8, DevicePathNodeHeader.size, true);
  out.set(endNode(), descriptorAt + 12);
  return out;
}

/** The "Windows Boot Manager" entry for the ESP described by `drive`. */
export function windowsBootManagerOption(drive: HardDrive): Uint8Array {
  return encodeLoadOption({
    attributes: LOAD_OPTION_ACTIVE, description: WINDOWS_BOOT_MANAGER,
    filePath: [{ kind: 'hard-drive', drive }, { kind: 'file', path: BOOTMGFW_PATH }],
    optionalData: windowsOptionalData(),
  });
}

/** `Boot####`: four upper-case hex digits. */
export const bootVariableName = (n: number): string => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new UsageError(`boot option number ${n} is not in 0..0xFFFF`);
  return `Boot${n.toString(16).toUpperCase().padStart(4, '0')}`;
};

export function encodeBootOrder(order: readonly number[]): Uint8Array {
  const out = new Uint8Array(order.length * 2);
  const v = new DataView(out.buffer);
  order.forEach((n, i) => v.setUint16(i * 2, n, true));
  return out;
}

export function decodeBootOrder(bytes: Uint8Array): number[] {
  if (bytes.length % 2 !== 0) throw new CorruptStructureError('BootOrder', 0, `is ${bytes.length} bytes, not a whole number of u16 entries`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return Array.from({ length: bytes.length / 2 }, (_, i) => v.getUint16(i * 2, true));
}

/**
 * Where the Windows entry goes and the new BootOrder: an existing "Windows Boot Manager" entry
 * for the same partition is reused, else the lowest free number; it comes first in BootOrder.
 */
export function placeWindowsEntry(existing: ReadonlyMap<number, Uint8Array>, bootOrder: readonly number[], drive: HardDrive): { number: number; option: Uint8Array; bootOrder: number[] } {
  const same = (o: LoadOption) => o.filePath.some((n) => n.kind === 'hard-drive' && JSON.stringify(n.drive.signature) === JSON.stringify(drive.signature));
  let number: number | undefined;
  for (const [n, bytes] of [...existing].sort((a, b) => a[0] - b[0])) {
    let decoded: LoadOption;
    try {
      decoded = decodeLoadOption(bytes);
    } catch (e) {
      if (e instanceof CorruptStructureError) continue; // another tool's damaged entry: neither reused nor touched
      throw e;
    }
    if (decoded.description === WINDOWS_BOOT_MANAGER && same(decoded)) {
      number = n;
      break;
    }
  }
  if (number === undefined) {
    number = 0;
    while (existing.has(number)) number++;
  }
  const option = windowsBootManagerOption(drive);
  return { number, option, bootOrder: [number, ...bootOrder.filter((n) => n !== number)] };
}
