/**
 * efivarfs variables as files (a stand-in directory: this machine has no UEFI firmware), and
 * boot repair's Windows entry written through them: efibootdump decodes what lands there.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../../test/helpers/tools.ts';
import { efivarfs } from './efivars.ts';
import { refreshWindowsBootEntry } from '../../src/boot/firmware-variables.ts';
import { EFI_GLOBAL_VARIABLE, encodeBootOrder, encodeLoadOption, type HardDrive } from '../../src/boot/efi-load-option.ts';

const scratch = scratchDir('lifeboat-efivars-');
test.after.always(() => scratch.remove());
const ESP: HardDrive = { partitionNumber: 1, startLba: 2048, sizeLba: 81920, signature: { scheme: 'gpt', partitionGuid: 'e1f2a3b4-c5d6-4e7f-8091-a2b3c4d5e6f7' } };
let n = 0;

/** A directory laid out as efivarfs: Boot0000 (a shell) and BootOrder, each with its attribute prefix. */
function firmware(): string {
  const dir = join(scratch.dir, `efivars-${n++}`);
  mkdirSync(dir);
  const withAttrs = (data: Uint8Array) => Buffer.concat([Buffer.from([7, 0, 0, 0]), data]);
  writeFileSync(join(dir, `Boot0000-${EFI_GLOBAL_VARIABLE}`), withAttrs(encodeLoadOption({ attributes: 1, description: 'EFI Shell', filePath: [{ kind: 'file', path: '\\shell.efi' }], optionalData: new Uint8Array() })));
  writeFileSync(join(dir, `BootOrder-${EFI_GLOBAL_VARIABLE}`), withAttrs(encodeBootOrder([0])));
  return dir;
}

test('the Windows entry lands as Boot0001 with NV|BS|RT attributes, first in BootOrder; efibootdump decodes it', async (t) => {
  const dir = firmware();
  const cleared: string[] = [];
  const vars = efivarfs(dir, { clearImmutable: (p) => cleared.push(p) });
  const r = await refreshWindowsBootEntry(vars, ESP);
  t.deepEqual(r, { written: true, variable: 'Boot0001', number: 1, bootOrder: [1, 0] });
  const raw = readFileSync(join(dir, `Boot0001-${EFI_GLOBAL_VARIABLE}`));
  t.deepEqual([...raw.subarray(0, 4)], [7, 0, 0, 0]);
  writeFileSync(join(dir, 'entry.bin'), raw.subarray(4));
  t.regex(execFileSync('efibootdump', ['-f', join(dir, 'entry.bin')], { encoding: 'utf8' }),
    /\* Windows Boot Manager HD\(1,GPT,e1f2a3b4-c5d6-4e7f-8091-a2b3c4d5e6f7,0x800,0x14000\)\/File\(\\EFI\\Microsoft\\Boot\\bootmgfw\.efi\)/);
  t.deepEqual([...readFileSync(join(dir, `BootOrder-${EFI_GLOBAL_VARIABLE}`))], [7, 0, 0, 0, 1, 0, 0, 0]);
  t.deepEqual(cleared, [join(dir, `BootOrder-${EFI_GLOBAL_VARIABLE}`)], 'only the existing variable had its immutable flag cleared');
  const again = await refreshWindowsBootEntry(efivarfs(dir, { clearImmutable: () => {} }), ESP);
  t.deepEqual(again, { written: true, variable: 'Boot0001', number: 1, bootOrder: [1, 0] }, 'a second run reuses the entry');
});

test('without efivarfs nothing is written and the notice says why', async (t) => {
  const dir = join(scratch.dir, 'absent');
  const r = await refreshWindowsBootEntry(efivarfs(dir), ESP);
  t.false(r.written);
  t.regex((r as { notice: string }).notice, /no UEFI boot entry written: .*absent does not exist: the machine was not started through UEFI/);
  t.false(existsSync(dir));
});
