/**
 * A BCD store read through the registry reader (shared/reference/boot-and-bcd.md 4.1–4.5):
 * `Objects\{guid}\Description\Type` and `Objects\{guid}\Elements\XXXXXXXX\Element`, with object
 * types and element types decoded (class, format, subtype, bcdedit name) and element values
 * decoded by format. Device elements go through bcd-device.ts.
 *
 * Read-only and forgiving per element: an element whose data does not match its format is kept
 * as `undecoded` with the reason (and the typed error for device data), so one odd element does
 * not hide the rest of the store; the reason reaches whoever lists or plans on the store.
 */
import { LifeboatError } from '../errors.ts';
import { REG, type Hive, type Key, type Value } from '../registry/index.ts';
import { decodeBcdDevice, type BcdDevice } from './bcd-device.ts';

/** Well-known object GUIDs (4.3), lower-case without braces → bcdedit name. */
export const WELL_KNOWN_OBJECTS: Readonly<Record<string, string>> = {
  '9dea862c-5cdd-4e70-acc1-f32b344d4795': '{bootmgr}',
  'a5a30fa2-3d06-4e9f-b5f4-a01df9d1fcba': '{fwbootmgr}',
  'b2721d73-1db4-4c62-bf78-c548a880142d': '{memdiag}',
  '466f5a88-0af2-4f76-9038-095b170dc21c': '{ntldr}',
  '7ea2e1ac-2e61-4728-aaa3-896d9d0a9f0e': '{globalsettings}',
  '6efb52bf-1766-41db-a6b3-0ee5eff72bd7': '{bootloadersettings}',
  '1afa9c49-16ab-4a5c-901b-212802da9460': '{resumeloadersettings}',
  '4636856e-540f-4170-a130-a84776f4c654': '{dbgsettings}',
  '0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9': '{emssettings}',
  '5189b25c-5558-4bf2-bca4-289b11bd29e2': '{badmemory}',
  '7ff607e0-4395-11db-b0de-0800200c9a66': '{hypervisorsettings}',
  'ae5534e0-a924-466c-b836-758539a3ee3a': '{ramdiskoptions}',
  '1cae1eb7-a0df-4d4d-9851-4860e34ef535': '{default}',
  'fa926493-6f1c-4193-a414-58f0b2456d1e': '{current}',
};
export const BOOTMGR_GUID = '9dea862c-5cdd-4e70-acc1-f32b344d4795';
export const DEFAULT_ALIAS = '1cae1eb7-a0df-4d4d-9851-4860e34ef535';
export const CURRENT_ALIAS = 'fa926493-6f1c-4193-a414-58f0b2456d1e';

export const ELEMENT_FORMATS = ['device', 'string', 'object', 'objectList', 'integer', 'boolean', 'integerList'] as const;
export type ElementFormat = (typeof ELEMENT_FORMATS)[number] | 'unknown';
/** Class 4 is "template" (Chappell) where Microsoft documents 5 as OEM: both accepted (4.5). */
export type ElementClass = 'library' | 'application' | 'device' | 'template' | 'oem' | 'unknown';
const CLASSES: Record<number, ElementClass> = { 1: 'library', 2: 'application', 3: 'device', 4: 'template', 5: 'oem' };

/** Application types (object type bits 0–19) whose class-2 elements have names below. */
const APP = { fwbootmgr: 1, bootmgr: 2, osloader: 3, resume: 4, memdiag: 5 } as const;

const LIBRARY_NAMES: Record<number, string> = {
  0x11000001: 'device', 0x12000002: 'path', 0x12000004: 'description', 0x12000005: 'locale',
  0x14000006: 'inherit', 0x14000008: 'recoverysequence', 0x16000009: 'recoveryenabled',
  0x1600000b: 'badmemoryaccess', 0x12000030: 'loadoptions', 0x16000048: 'nointegritychecks',
  0x16000060: 'isolatedcontext', 0x17000077: 'allowedinmemorysettings',
  0x31000003: 'ramdisksdidevice', 0x32000004: 'ramdisksdipath', 0x35000001: 'ramdiskimageoffset',
};
const BOOTMGR_NAMES: Record<number, string> = {
  0x24000001: 'displayorder', 0x24000002: 'bootsequence', 0x23000003: 'default', 0x25000004: 'timeout',
  0x26000005: 'resume', 0x23000006: 'resumeobject', 0x24000010: 'toolsdisplayorder',
  0x21000022: 'bcddevice', 0x22000023: 'bcdfilepath',
};
const APPLICATION_NAMES: Record<number, Record<number, string>> = {
  [APP.fwbootmgr]: BOOTMGR_NAMES,
  [APP.bootmgr]: BOOTMGR_NAMES,
  [APP.osloader]: {
    0x21000001: 'osdevice', 0x22000002: 'systemroot', 0x23000003: 'resumeobject', 0x26000010: 'detecthal',
    0x25000020: 'nx', 0x26000022: 'winpe', 0x25000080: 'safeboot', 0x250000c2: 'bootmenupolicy',
    0x250000f0: 'hypervisorlaunchtype',
  },
  [APP.resume]: { 0x21000001: 'filedevice', 0x22000002: 'filepath', 0x21000005: 'associatedosdevice' },
};

export interface ElementType {
  code: number;
  /** 8 lower-case hex digits, as the key is named. */
  hex: string;
  class: ElementClass;
  format: ElementFormat;
  /** Bits 0–23. */
  subtype: number;
  /** bcdedit's name where known; class-2 names depend on the object's application type. */
  name?: string;
}

/** Application type of an object for element naming: bits 0–19 of applications and of settings inherited by one type. */
function applicationType(objectType: number | undefined): number | undefined {
  if (objectType === undefined) return undefined;
  const cls = objectType >>> 28;
  const sub = (objectType >>> 20) & 0xf;
  if (cls === 1 || (cls === 2 && sub === 2)) return objectType & 0xfffff;
  return undefined;
}

export function decodeElementType(code: number, objectType?: number): ElementType {
  const c = code >>> 0;
  const formatNumber = (c >>> 24) & 0xf;
  const app = applicationType(objectType);
  const name = LIBRARY_NAMES[c] ?? (app !== undefined ? APPLICATION_NAMES[app]?.[c] : undefined);
  return {
    code: c,
    hex: c.toString(16).padStart(8, '0'),
    class: CLASSES[c >>> 28] ?? 'unknown',
    format: ELEMENT_FORMATS[formatNumber - 1] ?? 'unknown',
    subtype: c & 0xffffff,
    ...(name !== undefined ? { name } : {}),
  };
}

const OBJECT_TYPE_NAMES: Record<number, string> = {
  0x10100001: 'firmware boot manager', 0x10100002: 'Windows Boot Manager', 0x101fffff: 'firmware application',
  0x10200003: 'Windows Boot Loader', 0x10200004: 'Windows Resume Application', 0x10200005: 'memory tester',
  0x10300006: 'legacy NTLDR', 0x10400008: 'real-mode boot sector', 0x20100000: 'settings (any object)',
  0x20200003: 'settings (OS loaders)', 0x20200004: 'settings (resume loaders)', 0x30000000: 'device options',
};

export function describeObjectType(type: number): string {
  return OBJECT_TYPE_NAMES[type >>> 0] ?? `type 0x${(type >>> 0).toString(16).padStart(8, '0')}`;
}

export type ElementValue =
  | { kind: 'device'; device: BcdDevice }
  | { kind: 'string'; text: string }
  | { kind: 'object'; guid: string }
  | { kind: 'objectList'; guids: string[] }
  | { kind: 'integer'; value: bigint }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'integerList'; values: bigint[] }
  | { kind: 'undecoded'; reason: string; error?: LifeboatError };

export interface BcdElement {
  type: ElementType;
  /** Key path below the hive root: `Objects\{guid}\Elements\11000001`. */
  keyPath: string;
  /** The value's name as stored (`Element`). */
  valueName: string;
  registryType: number;
  data: Uint8Array;
  value: ElementValue;
  /** The registry value, for its cell offsets. */
  registryValue: Value;
}

export interface BcdObject {
  /** Lower-case without braces. */
  guid: string;
  /** The key's name as stored (braces, case as written). */
  keyName: string;
  keyPath: string;
  /** Well-known name like `{bootmgr}`, when it is one. */
  name?: string;
  /** `Description\Type`; undefined when absent or not a REG_DWORD. */
  type?: number;
  elements: BcdElement[];
  /** Element subkeys whose name is not 8 hex digits, or that have no `Element` value: listed, not read. */
  strayKeys: string[];
}

export interface BcdStore {
  hive: Hive;
  objects: BcdObject[];
  /** Keys under `Objects` whose name is not a GUID: listed, not read. */
  strayObjects: string[];
  /** Root `Description\System` = 1 (what Windows checks to treat a store as the system store). */
  isSystemStore: boolean;
  /** {bootmgr}'s default (0x23000003), resolved to an object GUID when present. */
  defaultObject?: string;
  /**
   * An object by GUID (with or without braces) or well-known name. `{default}` resolves through
   * {bootmgr}'s default; `{current}` only means something on a running system: undefined here.
   */
  object(idOrName: string): BcdObject | undefined;
  /** Every element of every object, in store order. */
  elements(): Array<{ object: BcdObject; element: BcdElement }>;
}

const GUID_RE = /^\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?$/i;
const normaliseGuid = (text: string): string | undefined => GUID_RE.exec(text.trim())?.[1]?.toLowerCase();

function decodeValue(format: ElementFormat, value: Value): ElementValue {
  const data = value.data;
  const undecoded = (reason: string, error?: LifeboatError): ElementValue => ({ kind: 'undecoded', reason, ...(error ? { error } : {}) });
  const u64s = (): bigint[] => {
    const v = new DataView(data.buffer, data.byteOffset, data.length);
    return Array.from({ length: data.length / 8 }, (_, i) => v.getBigUint64(i * 8, true));
  };
  try {
    switch (format) {
      case 'device':
        return { kind: 'device', device: decodeBcdDevice(data) };
      case 'string':
        return { kind: 'string', text: value.asString() };
      case 'object': {
        const guid = normaliseGuid(value.asString());
        return guid ? { kind: 'object', guid } : undecoded(`object element holds ${JSON.stringify(value.asString())}, not a GUID`);
      }
      case 'objectList': {
        const texts = value.asMultiString();
        const guids = texts.map(normaliseGuid);
        return guids.every((g) => g !== undefined) ? { kind: 'objectList', guids: guids as string[] }
          : undecoded(`object list holds a string that is not a GUID: ${JSON.stringify(texts)}`);
      }
      case 'integer':
        if ((value.type === REG.BINARY || value.type === REG.QWORD) && data.length === 8) return { kind: 'integer', value: u64s()[0]! };
        return undecoded(`integer element of ${data.length} bytes (type ${value.type}), not 8`);
      case 'boolean':
        if (data.length >= 1 && data.length <= 8) return { kind: 'boolean', value: data.some((b) => b !== 0) };
        return undecoded(`boolean element of ${data.length} bytes`);
      case 'integerList':
        if (data.length % 8 === 0) return { kind: 'integerList', values: u64s() };
        return undecoded(`integer list of ${data.length} bytes, not a multiple of 8`);
      default:
        return undecoded('element format not known');
    }
  } catch (e) {
    if (e instanceof LifeboatError) return undecoded(e.message, e);
    throw e;
  }
}

function readObject(key: Key): BcdObject {
  const guid = normaliseGuid(key.name)!;
  const keyPath = `Objects\\${key.name}`;
  const typeValue = key.subkey('Description')?.value('Type');
  const type = typeValue?.type === REG.DWORD && typeValue.data.length === 4 ? typeValue.asNumber() : undefined;
  const elements: BcdElement[] = [];
  const strayKeys: string[] = [];
  for (const e of key.subkey('Elements')?.subkeys() ?? []) {
    const v = e.value('Element');
    if (!/^[0-9a-f]{8}$/i.test(e.name) || !v) {
      strayKeys.push(e.name);
      continue;
    }
    const t = decodeElementType(Number.parseInt(e.name, 16), type);
    elements.push({
      type: t, keyPath: `${keyPath}\\Elements\\${e.name}`, valueName: v.name, registryType: v.type,
      data: Uint8Array.from(v.data), value: decodeValue(t.format, v), registryValue: v,
    });
  }
  const name = WELL_KNOWN_OBJECTS[guid];
  return { guid, keyName: key.name, keyPath, ...(name ? { name } : {}), ...(type !== undefined ? { type } : {}), elements, strayKeys };
}

/** Read a BCD store from its hive. Objects whose key name is not a GUID are skipped and named in `strayObjects`. */
export function readBcd(hive: Hive): BcdStore {
  const objects: BcdObject[] = [];
  const strayObjects: string[] = [];
  for (const key of hive.key('Objects')?.subkeys() ?? []) {
    if (normaliseGuid(key.name)) objects.push(readObject(key));
    else strayObjects.push(key.name);
  }
  const system = hive.key('Description')?.value('System');
  const byGuid = new Map(objects.map((o) => [o.guid, o]));
  const byName = new Map(Object.entries(WELL_KNOWN_OBJECTS).map(([g, n]) => [n, g]));
  const defaultValue = byGuid.get(BOOTMGR_GUID)?.elements.find((e) => e.type.code === 0x23000003)?.value;
  const defaultObject = defaultValue?.kind === 'object' ? defaultValue.guid : undefined;
  const resolve = (idOrName: string): string | undefined => {
    const guid = normaliseGuid(idOrName) ?? byName.get(idOrName.trim().toLowerCase());
    if (guid === DEFAULT_ALIAS) return defaultObject;
    if (guid === CURRENT_ALIAS) return undefined;
    return guid;
  };
  return {
    hive,
    objects,
    strayObjects,
    isSystemStore: system?.type === REG.DWORD && system.data.length === 4 && system.asNumber() === 1,
    ...(defaultObject ? { defaultObject } : {}),
    object: (idOrName) => {
      const guid = resolve(idOrName);
      return guid === undefined ? undefined : byGuid.get(guid);
    },
    elements: () => objects.flatMap((object) => object.elements.map((element) => ({ object, element }))),
  };
}
