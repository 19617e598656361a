/**
 * What to rewrite after a restore changed disk identities (shared/reference/boot-and-bcd.md 4.7,
 * 6.3): given how each source partition's identity maps to the target's, list the value edits for
 * a BCD store's device elements and for `SYSTEM\MountedDevices`. Pure planning: edits are data
 * (key path, value name, old bytes, new bytes of the same length) for the hive writer to apply.
 *
 * Rules (docs/boot-repair.md):
 * - a partition device element or MountedDevices value naming a mapped source partition gets the
 *   mapped identity; everything else is left alone and listed, with `attention` when a person
 *   should look (a ramdisk/WinRE device on a mapped partition, undecodable data, another style);
 * - the partition-style trap: a BCD partition device of the other style than the mapping (an MBR
 *   element on a GPT target or the reverse) means the store was made for another disk layout;
 *   the plan refuses with BootIdentityError unless the mapping has a cross-style section
 *   (`fromMbr` / `fromGpt`) saying what each old partition became.
 */
import { parseGuid, formatGuid } from '../binary/guid.ts';
import { LifeboatError, UsageError } from '../errors.ts';
import type { Hive } from '../registry/index.ts';
import { encodeBcdDevice, type PartitionIdentity } from './bcd-device.ts';
import { describeObjectType, type BcdElement, type BcdObject, type BcdStore } from './bcd.ts';
import { encodeMountedDevice, MOUNTED_DEVICES_KEY, readMountedDevices, type MountedDevice } from './mounted-devices.ts';

export type Offset = bigint | number;

export interface MbrIdentityMapping {
  scheme: 'mbr';
  oldSignature: number;
  newSignature: number;
  /** Partition start in BYTES on the source and on the target. */
  partitions: Array<{ oldOffset: Offset; newOffset: Offset }>;
  /** A GPT source restored onto this MBR target: each old GPT partition's new byte offset. */
  fromGpt?: { diskGuid: string; partitions: Array<{ oldGuid: string; newOffset: Offset }> };
}

export interface GptIdentityMapping {
  scheme: 'gpt';
  oldDiskGuid: string;
  newDiskGuid: string;
  partitions: Array<{ oldGuid: string; newGuid: string }>;
  /** An MBR source restored onto this GPT target: each old MBR partition's new partition GUID. */
  fromMbr?: { signature: number; partitions: Array<{ oldOffset: Offset; newGuid: string }> };
}

export type IdentityMapping = MbrIdentityMapping | GptIdentityMapping;

/**
 * One value to overwrite. newData has oldData's length (88-byte device elements, 12- or 24-byte
 * MountedDevices values), except a cross-style MountedDevices conversion (12 ↔ 24 bytes).
 */
export interface HiveEdit {
  /** Below the hive root, backslash-separated: `Objects\{…}\Elements\11000001`, `MountedDevices`. */
  keyPath: string;
  valueName: string;
  registryType: number;
  oldData: Uint8Array;
  newData: Uint8Array;
  description: string;
}

/** A device element or MountedDevices value the plan does not change, and why. */
export interface LeftAlone {
  keyPath: string;
  valueName: string;
  description: string;
  /** True when a person should look: it may be wrong after the restore and was not fixed. */
  attention: boolean;
}

export interface HiveEditPlan {
  edits: HiveEdit[];
  untouched: LeftAlone[];
}

export interface BootIdentityPlan {
  bcd: HiveEditPlan;
  mountedDevices: HiveEditPlan;
}

/** A mapping that cannot be applied safely: `reason` is 'partition-style' (the trap) or 'mapping'. */
export class BootIdentityError extends LifeboatError {
  constructor(reason: 'partition-style' | 'mapping', message: string, data: Record<string, string | number | boolean | undefined> = {}) {
    super('BOOT_IDENTITY', message, { reason, ...data });
  }
}

type Lookup =
  | { result: 'mapped'; to: PartitionIdentity }
  | { result: 'unchanged' }
  | { result: 'other-disk' }
  | { result: 'unmapped-on-source' }
  | { result: 'inconsistent'; why: string }
  | { result: 'style-mismatch' };

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
export const describeIdentity = (p: PartitionIdentity): string =>
  p.style === 'mbr' ? `MBR disk ${hex8(p.diskSignature)} at byte ${p.partitionOffset}` : `GPT disk ${p.diskGuid} partition ${p.partitionGuid}`;

/** Canonical lower-case GUID, or a mapping error naming the field. */
function canonicalGuid(text: string, field: string): string {
  try {
    return formatGuid(parseGuid(text));
  } catch (e) {
    if (e instanceof UsageError) throw new BootIdentityError('mapping', `${field} is not a GUID: ${JSON.stringify(text)}`, { field });
    throw e;
  }
}

function offset(x: Offset, field: string): bigint {
  const v = typeof x === 'bigint' ? x : Number.isSafeInteger(x) ? BigInt(x) : -1n;
  if (v < 0n || v >= 1n << 64n) throw new BootIdentityError('mapping', `${field} ${String(x)} is not a byte offset`, { field });
  return v;
}

function signature(n: number, field: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new BootIdentityError('mapping', `${field} ${n} is not a 32-bit disk signature`, { field });
  return n;
}

/** A map from keys to values that refuses a key, or a value, given twice. */
function uniqueMap<K, V>(pairs: Array<[K, V]>, what: string): Map<K, V> {
  const m = new Map<K, V>();
  const targets = new Set<string>();
  for (const [k, v] of pairs) {
    if (m.has(k)) throw new BootIdentityError('mapping', `${what}: source ${String(k)} is mapped twice`);
    if (targets.has(String(v))) throw new BootIdentityError('mapping', `${what}: two source partitions map to ${String(v)}`);
    m.set(k, v);
    targets.add(String(v));
  }
  return m;
}

/** The mapping checked and normalised into lookups for full identities and MountedDevices values. */
function compile(mapping: IdentityMapping) {
  if (mapping.scheme === 'mbr') {
    const oldSig = signature(mapping.oldSignature, 'oldSignature');
    const newSig = signature(mapping.newSignature, 'newSignature');
    const byOffset = uniqueMap(mapping.partitions.map((p, i) =>
      [offset(p.oldOffset, `partitions[${i}].oldOffset`), offset(p.newOffset, `partitions[${i}].newOffset`)]), 'MBR mapping');
    const cross = mapping.fromGpt && {
      disk: canonicalGuid(mapping.fromGpt.diskGuid, 'fromGpt.diskGuid'),
      byGuid: uniqueMap(mapping.fromGpt.partitions.map((p, i) =>
        [canonicalGuid(p.oldGuid, `fromGpt.partitions[${i}].oldGuid`), offset(p.newOffset, `fromGpt.partitions[${i}].newOffset`)]), 'fromGpt'),
    };
    const mbrTo = (o: bigint): PartitionIdentity => ({ style: 'mbr', diskSignature: newSig, partitionOffset: o });
    const full = (id: PartitionIdentity): Lookup => {
      if (id.style === 'mbr') {
        if (id.diskSignature !== oldSig) return { result: 'other-disk' };
        const to = byOffset.get(id.partitionOffset);
        return to === undefined ? { result: 'unmapped-on-source' } : { result: 'mapped', to: mbrTo(to) };
      }
      if (!cross) return { result: 'style-mismatch' };
      const to = cross.byGuid.get(id.partitionGuid);
      if (id.diskGuid !== cross.disk) {
        return to === undefined ? { result: 'other-disk' } : { result: 'inconsistent', why: `its partition is in fromGpt but its disk is not ${cross.disk}` };
      }
      return to === undefined ? { result: 'unmapped-on-source' } : { result: 'mapped', to: mbrTo(to) };
    };
    const mounted = (d: MountedDevice): { lookup: Lookup; to?: MountedDevice } => {
      if (d.kind === 'mbr') {
        const l = full({ style: 'mbr', diskSignature: d.diskSignature, partitionOffset: d.partitionOffset });
        return l.result === 'mapped' && l.to.style === 'mbr'
          ? { lookup: l, to: { kind: 'mbr', diskSignature: l.to.diskSignature, partitionOffset: l.to.partitionOffset } } : { lookup: l };
      }
      if (d.kind !== 'gpt') return { lookup: { result: 'other-disk' } };
      if (!cross) return { lookup: { result: 'style-mismatch' } };
      const to = cross.byGuid.get(d.partitionGuid);
      return to === undefined ? { lookup: { result: 'other-disk' } }
        : { lookup: { result: 'mapped', to: mbrTo(to) }, to: { kind: 'mbr', diskSignature: newSig, partitionOffset: to } };
    };
    return { style: 'mbr' as const, full, mounted };
  }
  const oldDisk = canonicalGuid(mapping.oldDiskGuid, 'oldDiskGuid');
  const newDisk = canonicalGuid(mapping.newDiskGuid, 'newDiskGuid');
  const byGuid = uniqueMap(mapping.partitions.map((p, i) =>
    [canonicalGuid(p.oldGuid, `partitions[${i}].oldGuid`), canonicalGuid(p.newGuid, `partitions[${i}].newGuid`)]), 'GPT mapping');
  const cross = mapping.fromMbr && {
    signature: signature(mapping.fromMbr.signature, 'fromMbr.signature'),
    byOffset: uniqueMap(mapping.fromMbr.partitions.map((p, i) =>
      [offset(p.oldOffset, `fromMbr.partitions[${i}].oldOffset`), canonicalGuid(p.newGuid, `fromMbr.partitions[${i}].newGuid`)]), 'fromMbr'),
  };
  const gptTo = (g: string): PartitionIdentity => ({ style: 'gpt', diskGuid: newDisk, partitionGuid: g });
  const full = (id: PartitionIdentity): Lookup => {
    if (id.style === 'gpt') {
      const to = byGuid.get(id.partitionGuid);
      if (id.diskGuid !== oldDisk) {
        return to === undefined ? { result: 'other-disk' } : { result: 'inconsistent', why: `its partition is mapped but its disk is not ${oldDisk}` };
      }
      return to === undefined ? { result: 'unmapped-on-source' } : { result: 'mapped', to: gptTo(to) };
    }
    if (!cross) return { result: 'style-mismatch' };
    if (id.diskSignature !== cross.signature) return { result: 'other-disk' };
    const to = cross.byOffset.get(id.partitionOffset);
    return to === undefined ? { result: 'unmapped-on-source' } : { result: 'mapped', to: gptTo(to) };
  };
  const mounted = (d: MountedDevice): { lookup: Lookup; to?: MountedDevice } => {
    if (d.kind === 'gpt') {
      const to = byGuid.get(d.partitionGuid);
      return to === undefined ? { lookup: { result: 'other-disk' } } : { lookup: { result: 'mapped', to: gptTo(to) }, to: { kind: 'gpt', partitionGuid: to } };
    }
    if (d.kind !== 'mbr') return { lookup: { result: 'other-disk' } };
    const l = full({ style: 'mbr', diskSignature: d.diskSignature, partitionOffset: d.partitionOffset });
    return l.result === 'mapped' && l.to.style === 'gpt' ? { lookup: l, to: { kind: 'gpt', partitionGuid: l.to.partitionGuid } } : { lookup: l };
  };
  return { style: 'gpt' as const, full, mounted };
}

const LOOKUP_TEXT: Record<Exclude<Lookup['result'], 'mapped' | 'inconsistent'>, string> = {
  'unchanged': 'its identity stays the same on the target',
  'other-disk': 'it names another disk, not the restored one',
  'unmapped-on-source': 'it names a partition of the source disk that the mapping does not cover (not restored?)',
  'style-mismatch': 'it names a partition of the other partition style than the mapping',
};

const objectLabel = (o: BcdObject) => o.name ?? `{${o.guid}}${o.type !== undefined ? ` (${describeObjectType(o.type)})` : ''}`;
const elementLabel = (o: BcdObject, e: BcdElement) => `${objectLabel(o)} ${e.type.name ?? 'element'} (${e.type.hex})`;

function styleTrap(style: 'mbr' | 'gpt', where: string, id: PartitionIdentity): BootIdentityError {
  const cross = style === 'gpt' ? 'fromMbr' : 'fromGpt';
  return new BootIdentityError('partition-style',
    `${where} names a ${id.style.toUpperCase()} partition (${describeIdentity(id)}) but the mapping is for a ${style.toUpperCase()} disk: `
    + `the store was made for a disk of the other partition style. Rebuild the store for the target, or give the mapping a ${cross} `
    + 'section saying what each old partition became.', { where, elementStyle: id.style, mappingStyle: style });
}

/** Edits for every partition device element of a BCD store naming a mapped source partition. */
export function planBcdIdentityEdits(store: BcdStore, mapping: IdentityMapping): HiveEditPlan {
  const map = compile(mapping);
  const edits: HiveEdit[] = [];
  const untouched: LeftAlone[] = [];
  for (const { object, element } of store.elements()) {
    if (element.type.format !== 'device') continue;
    const label = elementLabel(object, element);
    const leave = (description: string, attention: boolean) =>
      untouched.push({ keyPath: element.keyPath, valueName: element.valueName, description: `${label}: ${description}`, attention });
    const v = element.value;
    if (v.kind !== 'device') {
      leave(`not rewritten, its data did not decode: ${v.kind === 'undecoded' ? v.reason : v.kind}`, true);
      continue;
    }
    const d = v.device;
    if (d.kind === 'ramdisk') {
      if (d.parent.kind !== 'partition') {
        leave(`ramdisk on a ${d.parent.kind === 'boot' ? 'boot' : 'non-partition'} device: names no disk`, false);
        continue;
      }
      const l = map.full(d.parent.partition);
      if (l.result === 'style-mismatch') throw styleTrap(map.style, `BCD element ${element.keyPath} (${label}, ramdisk parent)`, d.parent.partition);
      const on = describeIdentity(d.parent.partition);
      leave(l.result === 'mapped'
        ? `ramdisk ${d.path} on ${on}, a restored partition: its nested parent device is NOT rewritten (not supported yet), so this entry (usually WinRE) will not start until it is`
        : `ramdisk ${d.path} on ${on}: ${l.result === 'inconsistent' ? l.why : LOOKUP_TEXT[l.result]}`, l.result === 'mapped' || l.result === 'inconsistent');
      continue;
    }
    if (d.kind !== 'partition') {
      leave(`${d.kind} device kept as it is: ${d.reason}`, false);
      continue;
    }
    const l = map.full(d.partition);
    if (l.result === 'style-mismatch') throw styleTrap(map.style, `BCD element ${element.keyPath} (${label})`, d.partition);
    if (l.result !== 'mapped') {
      leave(`${describeIdentity(d.partition)}: ${l.result === 'inconsistent' ? l.why : LOOKUP_TEXT[l.result]}`, l.result !== 'other-disk');
      continue;
    }
    const newData = encodeBcdDevice({ ...d, partition: l.to });
    if (Buffer.compare(newData, element.data) === 0) {
      leave(`${describeIdentity(d.partition)}: ${LOOKUP_TEXT.unchanged}`, false);
      continue;
    }
    edits.push({
      keyPath: element.keyPath, valueName: element.valueName, registryType: element.registryType,
      oldData: Uint8Array.from(element.data), newData,
      description: `${label}: ${describeIdentity(d.partition)} → ${describeIdentity(l.to)}`,
    });
  }
  return { edits, untouched };
}

/**
 * Edits for every `MountedDevices` value naming a mapped source partition. Values of the other
 * partition style, or other devices (USB sticks, CD drives), are other disks: left alone, the
 * other-style ones listed with attention since they may be the trap.
 */
export function planMountedDevicesEdits(system: Hive, mapping: IdentityMapping): HiveEditPlan {
  const map = compile(mapping);
  const edits: HiveEdit[] = [];
  const untouched: LeftAlone[] = [];
  for (const entry of readMountedDevices(system)) {
    const leave = (description: string, attention: boolean) =>
      untouched.push({ keyPath: MOUNTED_DEVICES_KEY, valueName: entry.name, description: `${entry.name}: ${description}`, attention });
    const d = entry.device;
    if (d.kind === 'other') {
      leave(`not a partition identity (${d.text !== undefined ? JSON.stringify(d.text.slice(0, 60)) : `${d.raw.length} bytes`})`, false);
      continue;
    }
    const shown = d.kind === 'mbr' ? describeIdentity({ style: 'mbr', diskSignature: d.diskSignature, partitionOffset: d.partitionOffset })
      : `GPT partition ${d.partitionGuid}`;
    const { lookup, to } = map.mounted(d);
    if (!to) {
      leave(`${shown}: ${lookup.result === 'inconsistent' ? lookup.why : lookup.result === 'mapped' ? 'mapped' : LOOKUP_TEXT[lookup.result]}`,
        lookup.result === 'style-mismatch' || lookup.result === 'unmapped-on-source' || lookup.result === 'inconsistent');
      continue;
    }
    const newData = encodeMountedDevice(to);
    if (Buffer.compare(newData, entry.data) === 0) {
      leave(`${shown}: ${LOOKUP_TEXT.unchanged}`, false);
      continue;
    }
    edits.push({
      keyPath: MOUNTED_DEVICES_KEY, valueName: entry.name, registryType: entry.type,
      oldData: Uint8Array.from(entry.data), newData,
      description: `${entry.name}: ${shown} → ${lookup.result === 'mapped' ? describeIdentity(lookup.to) : ''}`,
    });
  }
  return { edits, untouched };
}

/** Both plans; either hive may be absent (an empty plan then). */
export function planBootIdentity(hives: { bcd?: BcdStore; system?: Hive }, mapping: IdentityMapping): BootIdentityPlan {
  return {
    bcd: hives.bcd ? planBcdIdentityEdits(hives.bcd, mapping) : { edits: [], untouched: [] },
    mountedDevices: hives.system ? planMountedDevicesEdits(hives.system, mapping) : { edits: [], untouched: [] },
  };
}
