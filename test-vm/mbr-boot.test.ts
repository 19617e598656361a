/**
 * Lifeboat's MBR boot code (native/boot/mbr.asm, shipped as LIFEBOAT_MBR_CODE) booted by SeaBIOS.
 * Each disk is a small image file: sfdisk writes the table (bytes 440-511), our code goes over
 * bytes 0-439, and a test boot sector (test-vm/fixtures/marker-vbr.asm, assembled here) sits at
 * the active partition's start. It prints to COM1 the DL it was given and the entry it finds
 * through DS:SI, so the hand-over is checked, not only the jump. The failure cases check the
 * message our code prints on COM1 (SeaBIOS's own serial console off, so nothing else can print
 * it) and that the boot sector never ran. A disk with the code area zeroed is the control.
 *
 * Our code halts rather than powering off, so each boot ends when the expected line is complete
 * (`stopWhen`); the timeouts only bound a failure.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBytes, scratchDir } from '../test/helpers/tools.ts';
import { LIFEBOAT_MBR_CODE } from '../src/boot/mbr-code.ts';
import { bootDisk, type BootResult } from './qemu.ts';

const scratch = scratchDir('lifeboat-mbr-boot-');
test.after.always(() => scratch.remove());

const MARKER_VBR_ASM = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'marker-vbr.asm');
const MIB = 1 << 20;
const TIMEOUT_MS = 10_000; // a boot here takes under 1 s alone under TCG
/** Per test, including the wait for a QEMU slot (two at a time) behind boots that run to their timeout when the code is broken. */
const TEST_MS = 90_000;
/** The control must run to its timeout: long enough for SeaBIOS to reach the disk and run the code several times over. */
const CONTROL_MS = 4_000;

const MARKER = /LIFEBOAT-VBR-OK dl=([0-9A-F]{2}) ds:si=([0-9A-F]{4}):([0-9A-F]{4}) status=([0-9A-F]{2}) lba=([0-9A-F]{8})\r\n/;
const OUR_LINE = /Lifeboat MBR: [^\r\n]*\r\n/;

let vbrBytes: Buffer | undefined;
/** The test boot sector, assembled once with NASM (512 bytes ending in 55 AA). */
function markerVbr(): Buffer {
  if (!vbrBytes) {
    const out = join(scratch.dir, 'marker-vbr.bin');
    execFileSync('nasm', ['-f', 'bin', '-o', out, MARKER_VBR_ASM], { stdio: ['ignore', 'pipe', 'pipe'] });
    vbrBytes = readBytes(out, 0, 512);
    if (vbrBytes.readUInt16LE(510) !== 0xaa55) throw new Error('marker-vbr.bin does not end in 55 AA');
  }
  return vbrBytes;
}

interface Part { start: number; size: number; bootable?: boolean }
interface DiskSpec {
  name: string;
  bytes: number;
  partitions: Part[];
  /** Boot sectors to place, by LBA. */
  sectors?: Array<{ lba: number; bytes: Uint8Array }>;
  /** What goes over bytes 0-439 (default: LIFEBOAT_MBR_CODE). */
  code?: Uint8Array;
  /** Changes to the table after sfdisk wrote it: a byte offset in LBA 0 and the bytes to put there. */
  patches?: Array<{ offset: number; bytes: Uint8Array }>;
}

function write(fd: number, bytes: Uint8Array, offset: number): void {
  writeSync(fd, bytes, 0, bytes.length, offset);
}

/** A sparse disk image: sfdisk's table, then our code over bytes 0-439, then the boot sectors. */
function makeDisk(spec: DiskSpec): string {
  const path = join(scratch.dir, `${spec.name}.img`);
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, spec.bytes);
  } finally {
    closeSync(fd);
  }
  const script = ['label: dos', 'unit: sectors',
    ...spec.partitions.map((p) => `start=${p.start}, size=${p.size}, type=7${p.bootable ? ', bootable' : ''}`)].join('\n');
  execFileSync('sfdisk', ['--no-reread', '--no-tell-kernel', '-q', path], { input: `${script}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
  const table = readBytes(path, 440, 72);
  const out = openSync(path, 'r+');
  try {
    write(out, spec.code ?? LIFEBOAT_MBR_CODE, 0);
    for (const s of spec.sectors ?? []) write(out, s.bytes, s.lba * 512);
    for (const p of spec.patches ?? []) write(out, p.bytes, p.offset);
  } finally {
    closeSync(out);
  }
  if (!spec.patches && !readBytes(path, 440, 72).equals(table)) throw new Error(`${spec.name}: writing the code changed bytes 440-511`);
  return path;
}

const show = (serial: string) => serial.replace(/\x1b\[[0-9;?=]*[A-Za-z]/g, '').replace(/\x1bc/g, '').slice(-800);

async function boot(t: ExecutionContext, disk: string, what: string, stopWhen: RegExp, options: { timeoutMs?: number; biosSerialConsole?: boolean } = {}): Promise<BootResult> {
  const result = await bootDisk(disk, { firmware: 'bios', timeoutMs: options.timeoutMs ?? TIMEOUT_MS, stopWhen, biosSerialConsole: options.biosSerialConsole ?? false });
  t.log(`${what}: ${result.stopped ? 'expected line printed' : result.timedOut ? 'killed at the timeout' : 'QEMU ended'} after ${Math.round(result.ms)} ms`);
  return result;
}

/** The marker line's fields, or a failure naming what the serial port showed. */
function marker(t: ExecutionContext, result: BootResult): { dl: string; ds: string; si: string; status: string; lba: number } | undefined {
  const m = MARKER.exec(result.serial);
  if (!m) {
    t.fail(`the test boot sector did not print its marker. Serial port:\n${show(result.serial)}`);
    return undefined;
  }
  t.false(OUR_LINE.test(result.serial), 'no MBR error message');
  return { dl: m[1]!, ds: m[2]!, si: m[3]!, status: m[4]!, lba: parseInt(m[5]!, 16) };
}

/** Our message, printed once on COM1 as a whole line, and the boot sector never ran. */
async function failsWith(t: ExecutionContext, disk: string, what: string, message: string): Promise<void> {
  const line = `Lifeboat MBR: ${message}\r\n`;
  const result = await boot(t, disk, what, OUR_LINE);
  t.true(result.stopped, `our code printed a line within ${TIMEOUT_MS} ms. Serial port:\n${show(result.serial)}`);
  t.is(result.serial, line, 'exactly our line, from our own COM1 routine (SeaBIOS is silent on serial here)');
  t.false(MARKER.test(result.serial), 'the boot sector did not run');
}

const entry = (index: number) => 446 + 16 * index;

test('chain-loads the active partition\'s boot sector with DL = 80 and DS:SI = its entry (second entry active)', async (t) => {
  t.timeout(TEST_MS);
  const disk = makeDisk({
    name: 'active-second', bytes: 4 * MIB,
    partitions: [{ start: 2048, size: 2048 }, { start: 4096, size: 2048, bootable: true }],
    sectors: [{ lba: 4096, bytes: markerVbr() }], // the first partition's sector stays zero: loading it would say "no 55AA"
  });
  const m = marker(t, await boot(t, disk, 'active second entry', MARKER));
  if (!m) return;
  t.is(m.dl, '80', 'DL = the BIOS drive number of the first hard disk');
  t.is(`${m.ds}:${m.si}`, '0000:07CE', 'DS:SI = the second entry in the relocated copy (0600 + 1BE + 10)');
  t.is(m.status, '80', 'the entry read through DS:SI is the active one');
  t.is(m.lba, 4096, 'its start LBA read through DS:SI is the partition\'s');
});

test('the first entry active: DS:SI = 0000:07BE', async (t) => {
  t.timeout(TEST_MS);
  const disk = makeDisk({
    name: 'active-first', bytes: 4 * MIB,
    partitions: [{ start: 2048, size: 4096, bootable: true }],
    sectors: [{ lba: 2048, bytes: markerVbr() }],
  });
  const m = marker(t, await boot(t, disk, 'active first entry', MARKER));
  if (!m) return;
  t.deepEqual([m.dl, `${m.ds}:${m.si}`, m.status, m.lba], ['80', '0000:07BE', '80', 2048]);
});

test('an active partition at 8 GiB, past CHS reach, is loaded through the INT 13h extensions (LBA)', async (t) => {
  t.timeout(TEST_MS);
  const start = (8 * 1024 * MIB) / 512; // 16777216; CHS tops out at 1023/254/63 = LBA 16450559
  const disk = makeDisk({
    name: 'beyond-chs', bytes: 9 * 1024 * MIB,
    partitions: [{ start, size: 2048, bootable: true }],
    sectors: [{ lba: start, bytes: markerVbr() }],
  });
  const e = readBytes(disk, entry(0), 16);
  const cyl = ((e[2]! & 0xc0) << 2) | e[3]!;
  const chsLba = (cyl * 255 + e[1]!) * 63 + (e[2]! & 0x3f) - 1;
  t.true(chsLba < start, `the entry's CHS start (${Array.from(e.subarray(1, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')}) cannot name LBA ${start}`);
  const m = marker(t, await boot(t, disk, 'active at 8 GiB', MARKER));
  if (!m) return;
  t.is(m.lba, start);
  t.is(m.dl, '80');
});

test('without the INT 13h extensions the CHS fallback reads the sector the entry\'s CHS start names', async (t) => {
  t.timeout(TEST_MS);
  // SeaBIOS always has the extensions, so the code is given a BIOS without them: the one
  // instruction that picks the LBA read (`mov bp, 4201h`: BD 01 42) picks the CHS read instead.
  const code = Buffer.from(LIFEBOAT_MBR_CODE);
  const at = code.indexOf(Buffer.of(0xbd, 0x01, 0x42));
  t.true(at >= 0 && code.indexOf(Buffer.of(0xbd, 0x01, 0x42), at + 1) < 0, 'one `mov bp, 4201h` in the code');
  code[at + 2] = 0x02;
  // The CHS start says LBA 200 (C 0, H 3, S 12: the same with 16 or 255 heads of 63 sectors,
  // QEMU's and sfdisk's geometries), the LBA field says 100, which holds nothing.
  const disk = makeDisk({
    name: 'chs', bytes: 4 * MIB,
    partitions: [{ start: 100, size: 2048, bootable: true }],
    sectors: [{ lba: 200, bytes: markerVbr() }],
    code,
    patches: [{ offset: entry(0) + 1, bytes: Uint8Array.of(3, 12, 0) }],
  });
  const m = marker(t, await boot(t, disk, 'CHS read', MARKER));
  if (!m) return;
  t.deepEqual([m.dl, `${m.ds}:${m.si}`, m.lba], ['80', '0000:07BE', 100], 'loaded from CHS 0/3/12 (LBA 200); DS:SI still the entry');
});

test('no active partition: "Lifeboat MBR: no active partition"', async (t) => {
  t.timeout(TEST_MS);
  const disk = makeDisk({
    name: 'none-active', bytes: 4 * MIB,
    partitions: [{ start: 2048, size: 2048 }, { start: 4096, size: 2048 }],
    sectors: [{ lba: 2048, bytes: markerVbr() }, { lba: 4096, bytes: markerVbr() }],
  });
  await failsWith(t, disk, 'no active partition', 'no active partition');
});

test('the message goes to the screen too (INT 10h, which SeaBIOS\'s serial console mirrors), then to COM1', async (t) => {
  t.timeout(TEST_MS);
  const disk = makeDisk({ name: 'none-active-sercon', bytes: 4 * MIB, partitions: [{ start: 2048, size: 2048 }] });
  const result = await boot(t, disk, 'no active partition, SeaBIOS serial console on', /no active partition\r\n/, { biosSerialConsole: true });
  const text = show(result.serial);
  t.regex(text, /Booting from Hard Disk/);
  // SeaBIOS holds back the last characters of INT 10h output until the next call, so the
  // screen copy may lack its end; the COM1 copy that follows is whole.
  t.is(text.split('Lifeboat MBR: no active partitio').length - 1, 2, `the line once from INT 10h and once from COM1:\n${text}`);
  t.regex(text, /Lifeboat MBR: no active partition\r\n$/);
});

test('two active partitions: "Lifeboat MBR: invalid partition table"', async (t) => {
  t.timeout(TEST_MS);
  const disk = makeDisk({
    name: 'two-active', bytes: 4 * MIB,
    partitions: [{ start: 2048, size: 2048, bootable: true }, { start: 4096, size: 2048, bootable: true }],
    sectors: [{ lba: 2048, bytes: markerVbr() }, { lba: 4096, bytes: markerVbr() }],
  });
  await failsWith(t, disk, 'two active', 'invalid partition table');
});

test('a status byte other than 00 or 80: "Lifeboat MBR: invalid partition table"', async (t) => {
  t.timeout(TEST_MS);
  const disk = makeDisk({
    name: 'bad-status', bytes: 4 * MIB,
    partitions: [{ start: 2048, size: 2048, bootable: true }, { start: 4096, size: 2048 }],
    sectors: [{ lba: 2048, bytes: markerVbr() }],
    patches: [{ offset: entry(1), bytes: Uint8Array.of(0x01) }],
  });
  await failsWith(t, disk, 'status 01 on the second entry', 'invalid partition table');
});

test('active partition whose first sector lacks 55 AA: "Lifeboat MBR: boot sector missing (no 55AA)"', async (t) => {
  t.timeout(TEST_MS);
  const vbr = Buffer.from(markerVbr());
  vbr.writeUInt16LE(0, 510);
  const disk = makeDisk({
    name: 'no-55aa', bytes: 4 * MIB,
    partitions: [{ start: 2048, size: 2048, bootable: true }],
    sectors: [{ lba: 2048, bytes: vbr }], // runnable code, so jumping to it anyway would print the marker
  });
  await failsWith(t, disk, 'no 55 AA', 'boot sector missing (no 55AA)');
});

test('active entry starting past the end of the disk: "Lifeboat MBR: error reading the boot sector"', async (t) => {
  t.timeout(TEST_MS);
  const past = Buffer.alloc(4);
  past.writeUInt32LE(0x00ff0000); // 16711680: about 8 GiB into a 4 MiB disk
  const disk = makeDisk({
    name: 'read-error', bytes: 4 * MIB,
    partitions: [{ start: 2048, size: 2048, bootable: true }],
    sectors: [{ lba: 2048, bytes: markerVbr() }],
    patches: [{ offset: entry(0) + 8, bytes: past }],
  });
  await failsWith(t, disk, 'start past the end', 'error reading the boot sector');
});

test('control: the same disk with the code area zeroed never runs the boot sector, so these tests can fail', async (t) => {
  t.timeout(TEST_MS);
  const disk = makeDisk({
    name: 'control-zero-code', bytes: 4 * MIB,
    partitions: [{ start: 2048, size: 4096, bootable: true }],
    sectors: [{ lba: 2048, bytes: markerVbr() }],
    code: new Uint8Array(440),
  });
  const result = await boot(t, disk, 'zeroed code area', MARKER, { timeoutMs: CONTROL_MS, biosSerialConsole: true });
  t.regex(result.serial, /Booting from Hard Disk/, 'SeaBIOS reached the disk, so what is missing is the MBR code');
  t.false(MARKER.test(result.serial), show(result.serial));
  t.false(result.serial.includes('Lifeboat MBR'));
});
