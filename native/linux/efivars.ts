/**
 * UEFI firmware variables on Linux, through efivarfs (boot-and-bcd.md 7.2): each variable is
 * the file `<Name>-<vendor GUID>` whose content is the u32 attributes followed by the data,
 * and which must be written in one write. The kernel marks most variable files immutable, so
 * `chattr -i` comes first. Where the directory is absent (BIOS boot, a container) the
 * variables are reported unavailable and the caller skips them with a notice.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LifeboatError, UsageError } from '../../src/errors.ts';
import type { FirmwareVariable, FirmwareVariables } from '../../src/boot/firmware-variables.ts';

export const EFIVARS_DIR = '/sys/firmware/efi/efivars';
const ATTRIBUTES_BYTES = 4;
const NAME = /^[A-Za-z0-9_]+$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function fileOf(dir: string, name: string, guid: string): string {
  if (!NAME.test(name) || !GUID.test(guid)) throw new UsageError(`${name}-${guid} is not a firmware variable name`, { name, guid });
  return join(dir, `${name}-${guid}`);
}

/** The variables in `dir` (efivarfs, or a stand-in directory in tests). */
export function efivarfs(dir = EFIVARS_DIR, options: { clearImmutable?: (path: string) => void } = {}): FirmwareVariables {
  const clearImmutable = options.clearImmutable ?? ((path: string) => {
    execFileSync('chattr', ['-i', path], { stdio: ['ignore', 'ignore', 'pipe'] });
  });
  if (!existsSync(dir)) {
    return {
      available: false, reason: `${dir} does not exist: the machine was not started through UEFI, or efivarfs is not mounted`,
      list: () => [], read: async () => undefined,
      write: async (name) => {
        throw new LifeboatError('NO_FIRMWARE_VARIABLES', `cannot write ${name}: ${dir} does not exist`, { dir });
      },
    };
  }
  const read = async (name: string, guid: string): Promise<FirmwareVariable | undefined> => {
    const path = fileOf(dir, name, guid);
    if (!existsSync(path)) return undefined;
    const raw = new Uint8Array(await readFile(path));
    if (raw.length < ATTRIBUTES_BYTES) throw new LifeboatError('FIRMWARE_VARIABLE', `${path} holds ${raw.length} bytes, fewer than its attributes`, { path });
    return { attributes: new DataView(raw.buffer, raw.byteOffset).getUint32(0, true), data: raw.slice(ATTRIBUTES_BYTES) };
  };
  return {
    available: true,
    list: (guid) => readdirSync(dir).filter((f) => f.endsWith(`-${guid}`)).map((f) => f.slice(0, -guid.length - 1)),
    read,
    async write(name, guid, variable) {
      const path = fileOf(dir, name, guid);
      if (existsSync(path)) clearImmutable(path);
      const raw = new Uint8Array(ATTRIBUTES_BYTES + variable.data.length);
      new DataView(raw.buffer).setUint32(0, variable.attributes, true);
      raw.set(variable.data, ATTRIBUTES_BYTES);
      await writeFile(path, raw); // one write: efivarfs takes a variable whole
      const back = await read(name, guid);
      if (!back || back.attributes !== variable.attributes || !Buffer.from(back.data).equals(variable.data)) {
        throw new LifeboatError('WRITE_VERIFY', `${name} does not read back as written`, { path });
      }
    },
  };
}
