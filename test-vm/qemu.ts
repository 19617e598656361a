/**
 * Boot a disk image in QEMU, headless, and return what its serial port printed.
 *
 * SeaBIOS (`-bios`) on the i440FX machine for BIOS, OVMF (read-only code pflash + a private
 * copy of the variable store) on q35 for UEFI. The disk is attached with `snapshot=on`, so
 * nothing a boot writes reaches the image. `-no-reboot` makes a reboot or triple fault end QEMU
 * instead of looping; a guest that never powers off is killed at the timeout and the result
 * says so, with whatever the serial port printed until then.
 *
 * Acceleration is TCG unless `accel: 'kvm'` or LIFEBOAT_QEMU_ACCEL=kvm asks for KVM: the GRUB
 * boots take about 0.5 s (SeaBIOS) and 4 s (OVMF) under TCG, and KVM is not always usable where
 * /dev/kvm exists (nested virtualisation on this project's machines hangs SeaBIOS disk reads and
 * crashes OVMF), so it is opt-in rather than detected.
 *
 * Guests that halt instead of powering off (boot code printing a message, test boot sectors)
 * pass `stopWhen`: QEMU is ended as soon as the serial port shows it, rather than at the timeout.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

export type Firmware = 'bios' | 'uefi';

export const QEMU = 'qemu-system-x86_64';
export const SEABIOS = '/usr/share/seabios/bios-256k.bin';
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

export interface BootOptions {
  firmware?: Firmware;
  /** Hard limit: QEMU is killed after this long (default 60 s). */
  timeoutMs?: number;
  accel?: 'tcg' | 'kvm';
  /** Logical sector size the disk presents; 4096 attaches it as virtio-blk with 4096-byte blocks. */
  sectorSize?: 512 | 4096;
  /**
   * SeaBIOS only: mirror the firmware's messages and the guest's INT 10h output to COM1
   * (default true). false leaves the serial port to what the guest writes to COM1 itself.
   */
  biosSerialConsole?: boolean;
  /** End QEMU as soon as the serial output matches this (checked every 50 ms); `stopped` says so. */
  stopWhen?: RegExp;
}

export interface BootResult {
  /** Everything the guest wrote to its first serial port. */
  serial: string;
  /** Wall-clock time from starting QEMU to its exit (or to the kill). */
  ms: number;
  /** QEMU had to be killed at the timeout: the guest did not power off by itself. */
  timedOut: boolean;
  /** QEMU was ended because the serial output matched `stopWhen`. */
  stopped: boolean;
  exitCode: number | null;
  /** QEMU's own messages (bad options, missing firmware). */
  stderr: string;
}

/** Throws, naming the Debian package, when QEMU or the firmware for `firmware` is not installed. */
export function requireEmulator(firmware: Firmware): void {
  const missing: string[] = [];
  const onPath = (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, QEMU)));
  if (!onPath) missing.push(`${QEMU} (Debian package qemu-system-x86)`);
  if (firmware === 'bios' && !existsSync(SEABIOS)) missing.push(`${SEABIOS} (Debian package seabios)`);
  if (firmware === 'uefi') {
    for (const f of [OVMF_CODE, OVMF_VARS]) if (!existsSync(f)) missing.push(`${f} (Debian package ovmf)`);
  }
  if (missing.length > 0) throw new Error(`QEMU boot tests need ${missing.join(', ')}: run scripts/setup-test-deps`);
}

export function qemuArgs(image: string, firmware: Firmware, accel: 'tcg' | 'kvm', sectorSize: 512 | 4096, dir: string,
  biosSerialConsole = true): string[] {
  const args = ['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-m', '256', '-accel', accel,
    '-serial', `file:${join(dir, 'serial.log')}`];
  if (firmware === 'bios') {
    // Without a display SeaBIOS prints nothing; etc/sercon-port (u16, COM1 = 0x3f8) makes it
    // write its messages ("Booting from Hard Disk...", "No bootable device") to the serial port too.
    args.push('-machine', 'pc', '-bios', SEABIOS);
    if (biosSerialConsole) {
      const sercon = join(dir, 'sercon-port');
      writeFileSync(sercon, Uint8Array.of(0xf8, 0x03));
      args.push('-fw_cfg', `name=etc/sercon-port,file=${sercon}`);
    }
  } else {
    const vars = join(dir, 'OVMF_VARS.fd');
    copyFileSync(OVMF_VARS, vars);
    args.push('-machine', 'q35',
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
      '-drive', `if=pflash,format=raw,unit=1,file=${vars}`);
  }
  const file = image.replaceAll(',', ',,');
  if (sectorSize === 512) {
    args.push('-drive', `file=${file},format=raw,if=ide,snapshot=on`);
  } else {
    args.push('-drive', `file=${file},format=raw,if=none,id=disk0,snapshot=on`,
      '-device', `virtio-blk-pci,drive=disk0,logical_block_size=${sectorSize},physical_block_size=${sectorSize},bootindex=0`);
  }
  return args;
}

/**
 * At most this many QEMUs of one test process run at once (LIFEBOAT_QEMU_PARALLEL, default 2 or
 * the CPU count if lower): TCG is CPU-bound, and a boot's measured time should be its own.
 */
const MAX_PARALLEL = Math.max(1, Number(process.env.LIFEBOAT_QEMU_PARALLEL) || Math.min(2, availableParallelism()));
let running = 0;
const waiting: Array<() => void> = [];

async function slot<T>(work: () => Promise<T>): Promise<T> {
  if (running < MAX_PARALLEL) running++;
  else await new Promise<void>((resolve) => waiting.push(resolve)); // a finishing boot hands its slot over
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

/**
 * Boot `image` and return its serial output. Throws when QEMU cannot start or fails by itself;
 * a guest that does not power off in time is not an error here (`timedOut`), the caller judges.
 */
export function bootDisk(image: string, options: BootOptions = {}): Promise<BootResult> {
  return slot(() => boot(image, options));
}

async function boot(image: string, options: BootOptions): Promise<BootResult> {
  const firmware = options.firmware ?? 'bios';
  const timeoutMs = options.timeoutMs ?? 60_000;
  const env = process.env.LIFEBOAT_QEMU_ACCEL;
  const accel = options.accel ?? (env === 'kvm' ? 'kvm' : 'tcg');
  requireEmulator(firmware);
  if (!existsSync(image)) throw new Error(`bootDisk: ${image} does not exist`);
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-qemu-'));
  try {
    const args = qemuArgs(image, firmware, accel, options.sectorSize ?? 512, dir, options.biosSerialConsole ?? true);
    const log = join(dir, 'serial.log');
    const printed = () => existsSync(log) ? readFileSync(log, 'latin1') : '';
    const started = performance.now();
    const child = spawn(QEMU, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    let timedOut = false;
    let stopped = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const { stopWhen } = options;
    const poll = stopWhen && setInterval(() => {
      if (!stopped && stopWhen.test(printed())) {
        stopped = true;
        child.kill('SIGKILL');
      }
    }, 50);
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.on('error', (e) => reject(new Error(`cannot start ${QEMU}: ${e.message}`)));
      child.on('close', (code) => resolve(code));
    }).finally(() => {
      clearTimeout(timer);
      if (poll) clearInterval(poll);
    });
    const ms = performance.now() - started;
    const serial = printed();
    if (stopped) timedOut = false; // the match came first; a kill racing the timer is still a match
    if (!timedOut && !stopped && exitCode !== 0) throw new Error(`${QEMU} ${args.join(' ')} exited with ${exitCode}: ${stderr.trim()}\nserial:\n${serial}`);
    return { serial, ms, timedOut, stopped, exitCode, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
