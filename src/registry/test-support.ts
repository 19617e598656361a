/**
 * Test-only helpers for the registry suites: hives taken from the fixture disks or built with
 * hivexregedit, and hivexregedit's --export text parsed into the same shape as our reading, so
 * every key, value name, type and data byte can be compared. Nothing here is used by the engine.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, ROOT, type FixtureName } from '../../test/helpers/fixtures.ts';
import { extractRange, tool, toolBytes } from '../../test/helpers/tools.ts';
import { REG, type Hive } from './hive.ts';

/** key path ('\\' for the root, as hivexregedit prints it) → value name → "type:hex data". */
export type HiveListing = Map<string, Map<string, string>>;

const entry = (type: number, data: Uint8Array) => `${type}:${Buffer.from(data).toString('hex')}`;

/** Parse `hivexregedit --export` output (its format: Win::Hivex::Regedit reg_export_node). */
export function parseRegExport(text: string): HiveListing {
  const out: HiveListing = new Map();
  let current: Map<string, string> | undefined;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('Windows Registry Editor')) continue;
    if (line.startsWith('[') && line.endsWith(']')) {
      current = new Map();
      out.set(line.slice(1, -1), current);
      continue;
    }
    if (!current) throw new Error(`value line before any key: ${line}`);
    let name: string;
    let rest: string;
    if (line.startsWith('@=')) {
      name = '';
      rest = line.slice(2);
    } else {
      let i = 1;
      name = '';
      while (line[i] !== '"') {
        if (i >= line.length) throw new Error(`unterminated value name: ${line}`);
        if (line[i] === '\\') i++;
        name += line[i];
        i++;
      }
      if (line[i + 1] !== '=') throw new Error(`no "=" after the value name: ${line}`);
      rest = line.slice(i + 2);
    }
    let m: RegExpMatchArray | null;
    if ((m = rest.match(/^dword:([0-9a-f]{8})$/))) {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(Number.parseInt(m[1]!, 16));
      current.set(name, entry(4, b));
    } else if ((m = rest.match(/^hex\(([0-9a-f]+)\):([0-9a-f,]*)$/))) {
      current.set(name, entry(Number.parseInt(m[1]!, 16), Buffer.from(m[2]!.replaceAll(',', ''), 'hex')));
    } else {
      throw new Error(`value form not understood: ${line}`);
    }
  }
  return out;
}

/** A listing as nested plain objects in sorted order, for deepEqual and readable diffs. */
export const sorted = (l: HiveListing) =>
  Object.fromEntries([...l].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, Object.fromEntries([...v].sort())]));

/** Our reader's view of the whole hive in the same shape. Reads every value's data. */
export function listHive(hive: Hive): HiveListing {
  const out: HiveListing = new Map();
  for (const { path, key } of hive.walk()) {
    const values = new Map<string, string>();
    for (const v of key.values()) values.set(v.name, entry(v.type, v.data));
    out.set(`\\${path}`, values);
  }
  return out;
}

/** The fixture's BCD store or SYSTEM hive, copied out of its volume with ntfscat or mcopy. */
export function fixtureHive(name: FixtureName, which: 'bcd' | 'system', dir: string): { file: string; export: string } {
  const { image, manifest } = fixture(name);
  const source = which === 'bcd' ? manifest.bcd![0]! : manifest.systemHive!;
  const p = manifest.partitions.find((q) => q.index === source.partition)!;
  const volume = extractRange(image, p.startLba * manifest.sectorSize, p.sizeLba * manifest.sectorSize,
    join(dir, `${name}-p${p.index}.img`));
  const unixPath = source.path.replaceAll('\\', '/');
  const bytes = p.fs === 'ntfs'
    ? toolBytes('ntfscat', [volume, `/${unixPath}`])
    : toolBytes('mcopy', ['-n', '-i', volume, `::/${unixPath}`, '-']);
  if (bytes.length === 0) throw new Error(`${source.path} on ${name} partition ${p.index} is empty`);
  const file = join(dir, `${name}-${which}.hive`);
  writeFileSync(file, bytes);
  return { file, export: source.export };
}

/** A hive made the way the fixtures make them: scripts/fixtures/empty-hive.py, then hivexregedit --merge. */
export function buildHive(dir: string, name: string, reg: string): string {
  const file = join(dir, `${name}.hive`);
  tool('python3', [join(ROOT, 'scripts', 'fixtures', 'empty-hive.py'), file]);
  const regFile = join(dir, `${name}.reg`);
  writeFileSync(regFile, `Windows Registry Editor Version 5.00\n\n${reg}`);
  tool('hivexregedit', ['--merge', file, regFile]);
  return file;
}

export const hivexExport = (file: string): string => tool('hivexregedit', ['--export', file, '\\']);

export const hexReg = (type: number, data: Uint8Array): string =>
  `hex(${type.toString(16)}):${[...data].map((b) => b.toString(16).padStart(2, '0')).join(',')}`;

/** Where hivexml says each key and value lives: path → nk file offset and value name → byte-run file offsets. */
export interface HivexmlRuns {
  keys: Map<string, { nk: number[]; values: Map<string, number[]> }>;
}

const unescapeXml = (s: string) => s.replace(/&(quot|amp|lt|gt|apos|#(\d+)|#x([0-9a-f]+));/gi, (_, e: string, d?: string, h?: string) =>
  d ? String.fromCodePoint(Number(d)) : h ? String.fromCodePoint(Number.parseInt(h, 16))
    : ({ quot: '"', amp: '&', lt: '<', gt: '>', apos: "'" } as Record<string, string>)[e]!);

/** Parse `hivexml` output (its byte_run elements give the file offset of every cell it read). */
export function hivexmlRuns(file: string): HivexmlRuns {
  // hivexml opens /dev/stdout itself, which fails on a pipe: give it a file.
  tool('sh', ['-c', 'hivexml "$1" > "$1.xml"', 'sh', file]);
  const xml = readFileSync(`${file}.xml`, 'utf8');
  const keys: HivexmlRuns['keys'] = new Map();
  const stack: string[] = [];
  let value: number[] | undefined;
  let runs: number[] | undefined;
  for (const m of xml.matchAll(/<(\/?)(node|value|byte_run)\b([^>]*?)(\/?)>/g)) {
    const [, close, tag, attrs, selfClose] = m as unknown as [string, string, string, string, string];
    const attr = (name: string) => {
      const a = attrs.match(new RegExp(`\\b${name}="([^"]*)"`));
      return a ? unescapeXml(a[1]!) : undefined;
    };
    if (tag === 'node' && !close) {
      const path = stack.length === 0 ? '\\' : `${stack.at(-1) === '\\' ? '' : stack.at(-1)}\\${attr('name')}`;
      stack.push(path);
      const entry = { nk: [] as number[], values: new Map<string, number[]>() };
      keys.set(path, entry);
      runs = entry.nk;
    } else if (tag === 'node') {
      stack.pop();
      runs = undefined;
    } else if (tag === 'value' && !close) {
      value = [];
      keys.get(stack.at(-1)!)!.values.set(attr('default') === '1' ? '' : attr('key') ?? '', value);
      if (selfClose) value = undefined;
    } else if (tag === 'value') {
      value = undefined;
    } else if (tag === 'byte_run') {
      (value ?? runs)?.push(Number(attr('file_offset')));
    }
  }
  return { keys };
}

/** Everything a caller might do with a hive: walk it, read every value and decode it by type. */
export function exercise(hive: Hive, probe?: string): number {
  let n = 0;
  for (const { key } of hive.walk()) {
    for (const value of key.values()) {
      n += value.data.length;
      if (value.type === REG.SZ || value.type === REG.EXPAND_SZ) n += value.asString().length;
      if (value.type === REG.MULTI_SZ) n += value.asMultiString().length;
      if (value.type === REG.DWORD || value.type === REG.DWORD_BIG_ENDIAN) n += value.asNumber() & 1;
      if (value.type === REG.QWORD) n += Number(value.asBigInt() & 1n);
    }
    void key.lastWritten;
  }
  if (probe) n += hive.key(probe)?.values().length ?? 0;
  return n;
}

/** xorshift32: deterministic cases, the seed printed on failure. */
export function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s % n;
  };
}

