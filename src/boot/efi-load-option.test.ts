/** Boot#### entries decoded by efibootdump (efibootmgr's independent decoder), BootOrder placement, hostile bytes. */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../../test/helpers/tools.ts';
import { LifeboatError } from '../errors.ts';
import {
  bootVariableName, decodeBootOrder, decodeLoadOption, encodeBootOrder, encodeLoadOption, placeWindowsEntry, windowsBootManagerOption,
  windowsOptionalData, type HardDrive,
} from './efi-load-option.ts';

const scratch = scratchDir('lifeboat-efi-');
test.after.always(() => scratch.remove());

/** The uefi-gpt fixture's ESP: partition 1, LBA 2048, 40 MiB, its partition GUID. */
const ESP: HardDrive = { partitionNumber: 1, startLba: 2048, sizeLba: 81920, signature: { scheme: 'gpt', partitionGuid: 'e1f2a3b4-c5d6-4e7f-8091-a2b3c4d5e6f7' } };
const MBR: HardDrive = { partitionNumber: 2, startLba: 63, sizeLba: 1000, signature: { scheme: 'mbr', diskSignature: 0x1b0a7f53 } };

function efibootdump(bytes: Uint8Array): string {
  const path = join(scratch.dir, `option-${Math.random().toString(16).slice(2)}.bin`);
  writeFileSync(path, bytes);
  return execFileSync('efibootdump', ['-f', path], { encoding: 'utf8' });
}

test('a Windows Boot Manager entry for a GPT ESP decodes in efibootdump as HD(...)/File(bootmgfw.efi) with Windows\' optional data', (t) => {
  const out = efibootdump(windowsBootManagerOption(ESP));
  t.regex(out, /: \* Windows Boot Manager HD\(1,GPT,e1f2a3b4-c5d6-4e7f-8091-a2b3c4d5e6f7,0x800,0x14000\)\/File\(\\EFI\\Microsoft\\Boot\\bootmgfw\.efi\)WINDOWS/);
  t.regex(out, /B\.C\.D\.O\.B\.J\.E\.C\.T\.=\.\{\.9\.d\.e\.a\.8\.6\.2\.c/);
});

test('the same entry for an MBR disk carries the disk signature', (t) => {
  t.regex(efibootdump(windowsBootManagerOption(MBR)), /HD\(2,MBR,0x1b0a7f53,0x3f,0x3e8\)\/File\(\\EFI\\Microsoft\\Boot\\bootmgfw\.efi\)/);
});

test('Windows\' optional data is the 136-byte form: WINDOWS, version 1, length, descriptor offset, BCDOBJECT, empty device path', (t) => {
  const d = windowsOptionalData();
  const v = new DataView(d.buffer);
  t.is(d.length, 136);
  t.is(Buffer.from(d.subarray(0, 8)).toString('latin1'), 'WINDOWS\0');
  t.deepEqual([v.getUint32(8, true), v.getUint32(12, true), v.getUint32(16, true)], [1, 136, 120]);
  t.is(Buffer.from(d.subarray(20, 116)).toString('utf16le'), 'BCDOBJECT={9dea862c-5cdd-4e70-acc1-f32b344d4795}');
  t.deepEqual([...d.subarray(132)], [0x7f, 0xff, 0x04, 0x00]);
});

test('decode gives back what was encoded, other nodes included', (t) => {
  const option = {
    attributes: 0x101, description: 'Lifeboat test',
    filePath: [{ kind: 'other' as const, type: 2, subType: 1, data: new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0]) }, { kind: 'hard-drive' as const, drive: ESP }, { kind: 'file' as const, path: '\\EFI\\Boot\\bootx64.efi' }],
    optionalData: new Uint8Array([1, 2, 3]),
  };
  const bytes = encodeLoadOption(option);
  t.deepEqual(decodeLoadOption(bytes), option);
  t.deepEqual(encodeLoadOption(decodeLoadOption(bytes)), bytes);
});

test('BootOrder and Boot#### names', (t) => {
  t.deepEqual([...encodeBootOrder([3, 0x10, 1])], [3, 0, 0x10, 0, 1, 0]);
  t.deepEqual(decodeBootOrder(encodeBootOrder([3, 0x10, 1])), [3, 0x10, 1]);
  t.is(bootVariableName(0x1a), 'Boot001A');
  t.throws(() => decodeBootOrder(new Uint8Array(3)), { instanceOf: LifeboatError });
});

test('the Windows entry reuses the number of an existing one for the same partition, else the lowest free one, and comes first', (t) => {
  const other = encodeLoadOption({ attributes: 1, description: 'UEFI Shell', filePath: [{ kind: 'file', path: '\\shell.efi' }], optionalData: new Uint8Array() });
  const old = windowsBootManagerOption(ESP);
  const reused = placeWindowsEntry(new Map([[0, other], [2, old]]), [0, 2], ESP);
  t.is(reused.number, 2);
  t.deepEqual(reused.bootOrder, [2, 0]);
  const fresh = placeWindowsEntry(new Map([[0, other], [1, new Uint8Array([1, 2])]]), [1, 0], { ...ESP, signature: { scheme: 'gpt', partitionGuid: '11111111-2222-4333-8444-555555555555' } });
  t.is(fresh.number, 2, 'a damaged entry is neither reused nor overwritten');
  t.deepEqual(fresh.bootOrder, [2, 1, 0]);
});

test('hostile bytes give typed errors, never a crash', (t) => {
  const good = windowsBootManagerOption(ESP);
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < 2000; i++) {
    const bad = good.slice(0, Math.floor(rnd() * (good.length + 1)));
    for (let k = 0; k < 3; k++) if (bad.length > 0) bad[Math.floor(rnd() * bad.length)] = Math.floor(rnd() * 256);
    try {
      decodeLoadOption(bad);
    } catch (e) {
      if (!(e instanceof LifeboatError)) t.fail(`case ${i}: ${String(e)}`);
    }
  }
  t.pass();
});
