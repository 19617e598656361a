/**
 * UEFI firmware variables as the engine sees them: an interface the native layer implements
 * (efivarfs on Linux, SetFirmwareEnvironmentVariableExW on Windows), and the one job boot
 * repair does with them — make "Windows Boot Manager" on the restored ESP the first boot entry.
 */
import { UsageError } from '../errors.ts';
import {
  BOOT_VARIABLE_ATTRIBUTES, bootVariableName, decodeBootOrder, EFI_GLOBAL_VARIABLE, encodeBootOrder, placeWindowsEntry, type HardDrive,
} from './efi-load-option.ts';

export interface FirmwareVariable {
  attributes: number;
  data: Uint8Array;
}

export interface FirmwareVariables {
  readonly available: boolean;
  /** Why not, when unavailable: the notice the user sees. */
  readonly reason?: string;
  /** Names of the variables under vendor `guid`. */
  list(guid: string): string[];
  read(name: string, guid: string): Promise<FirmwareVariable | undefined>;
  write(name: string, guid: string, variable: FirmwareVariable): Promise<void>;
}

export type BootEntryResult =
  | { written: true; variable: string; number: number; bootOrder: number[] }
  | { written: false; notice: string };

const BOOT_OPTION = /^Boot([0-9A-F]{4})$/;

/**
 * Write the Windows Boot Manager entry for `drive` (the ESP on the restored disk) and put it
 * first in BootOrder, reusing an existing entry for the same partition. Where firmware
 * variables are absent, nothing is written and the notice says why.
 */
export async function refreshWindowsBootEntry(vars: FirmwareVariables, drive: HardDrive): Promise<BootEntryResult> {
  if (!vars.available) return { written: false, notice: `no UEFI boot entry written: ${vars.reason ?? 'firmware variables are not available'}` };
  const existing = new Map<number, Uint8Array>();
  for (const name of vars.list(EFI_GLOBAL_VARIABLE)) {
    const m = BOOT_OPTION.exec(name);
    if (!m) continue;
    const v = await vars.read(name, EFI_GLOBAL_VARIABLE);
    if (v) existing.set(Number.parseInt(m[1]!, 16), v.data);
  }
  const order = await vars.read('BootOrder', EFI_GLOBAL_VARIABLE);
  const placed = placeWindowsEntry(existing, order ? decodeBootOrder(order.data) : [], drive);
  if (placed.number > 0xffff) throw new UsageError('every Boot#### number is taken');
  const variable = bootVariableName(placed.number);
  await vars.write(variable, EFI_GLOBAL_VARIABLE, { attributes: BOOT_VARIABLE_ATTRIBUTES, data: placed.option });
  await vars.write('BootOrder', EFI_GLOBAL_VARIABLE, { attributes: BOOT_VARIABLE_ATTRIBUTES, data: encodeBootOrder(placed.bootOrder) });
  return { written: true, variable, number: placed.number, bootOrder: placed.bootOrder };
}
