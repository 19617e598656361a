/**
 * GRUB as an independent reader of a restored disk: installed on a copy of a fixture disk before
 * it is backed up, it boots in QEMU, reads files from the disk's volumes with its own
 * filesystem drivers (ntfs, ntfscomp, fat) and prints their SHA-256 over the serial port.
 *
 * - BIOS/MBR: GRUB's boot.img goes into the MBR's code area (bytes 0–439; the disk signature
 *   and the partition table at 440–511 stay), core.img into the sectors after it (LBA 1…, the
 *   gap before the first partition), with the config embedded in core.img (`grub-mkimage -c`).
 * - UEFI/GPT: `grub-mkstandalone` builds one EFI binary holding the config in its memdisk; it is
 *   copied to \EFI\Boot\BOOTX64.EFI on the ESP with mtools, the removable-media path that
 *   firmware without boot entries (a fresh OVMF_VARS) starts.
 *
 * Offsets in boot.img and core.img are GRUB's (include/grub/i386/pc/boot.h,
 * util/setup.c): what grub-install/grub-bios-setup write, done here without a loop device.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const I386_PC = '/usr/lib/grub/i386-pc';
const X86_64_EFI = '/usr/lib/grub/x86_64-efi';

/* include/grub/i386/pc/boot.h */
const BPB_START = 0x03;
const BPB_END = 0x5a;
const KERNEL_SECTOR = 0x5c; // u64: LBA of core.img's first sector
const BOOT_DRIVE = 0x64; // u8: 0xff = use the drive the BIOS passes in DL
const DRIVE_CHECK = 0x66; // 2-byte jmp; grub-setup turns it into two NOPs for hard disks
const WINDOWS_NT_MAGIC = 0x1b8; // from here on (disk signature, partition table, 55 AA) the disk keeps its own bytes
/* The blocklist at the end of core.img's first sector (diskboot.img): where the rest of core.img is. */
const BLOCKLIST = 512 - 12; // { u64 start; u16 len; u16 segment }

/** One file GRUB hashes: a partition number of the disk and a path relative to its root, `\`-separated as in the manifests. */
export interface HashTarget {
  partition: number;
  path: string;
}

export const MARKER_BEGIN = 'LIFEBOAT-GRUB-BEGIN';
export const MARKER_END = 'LIFEBOAT-GRUB-END';
const MARKER_FILE = 'LIFEBOAT-HASH';

/** The key of `file` in the map `parseHashes` returns. */
export const hashKey = (f: HashTarget): string => `${f.partition}:${f.path}`;

function requireFiles(paths: Array<[string, string]>): void {
  const missing = paths.filter(([path]) => !existsSync(path));
  if (missing.length > 0) {
    throw new Error(`GRUB boot tests need ${missing.map(([path, pkg]) => `${path} (Debian package ${pkg})`).join(', ')}: run scripts/setup-test-deps`);
  }
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as Error & { stderr?: string; code?: string };
    if (err.code === 'ENOENT') throw new Error(`${command} is not installed: run scripts/setup-test-deps`);
    throw new Error(`${command} ${args.join(' ')} failed: ${err.stderr ?? err.message}`);
  }
}

/**
 * The GRUB script: serial console, a begin marker, for each file a marker line naming it then
 * `hashsum --hash sha256`, an end marker, then `halt` so QEMU exits. It runs as GRUB's embedded
 * config (rescue parser) on BIOS and as grub.cfg (normal mode) on UEFI, so it uses only plain
 * commands, one per line.
 */
export function grubScript(scheme: 'mbr' | 'gpt', files: readonly HashTarget[]): string {
  const table = scheme === 'mbr' ? 'msdos' : 'gpt';
  const lines = ['serial --unit=0 --speed=115200', 'terminal_output serial', `echo ${MARKER_BEGIN}`];
  files.forEach((f, i) => {
    if (/[\s'"\\$;{}]/.test(f.path.replaceAll('\\', '/'))) throw new Error(`GRUB script: path ${f.path} needs quoting; pick a file without spaces or shell characters`);
    lines.push(`echo ${MARKER_FILE} ${i}`);
    lines.push(`hashsum --hash sha256 (hd0,${table}${f.partition})/${f.path.replaceAll('\\', '/')}`);
  });
  lines.push(`echo ${MARKER_END}`, 'halt', '');
  return lines.join('\n');
}

/**
 * What GRUB printed for each file: its SHA-256, or the error line GRUB printed instead.
 * Escape sequences and carriage returns of GRUB's terminal are removed first; a hash line longer
 * than the terminal is wrapped, so only the first 64-hex-digit word after each file's marker counts.
 */
export function parseHashes(serial: string, files: readonly HashTarget[]): Map<string, string> {
  const text = serial.replace(/\x1b\[[0-9;?=]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[A-Za-z]/g, '').replaceAll('\r', '');
  const result = new Map<string, string>();
  const begin = text.indexOf(MARKER_BEGIN);
  if (begin < 0) return result;
  const body = text.slice(begin);
  const sections = body.split(new RegExp(`^${MARKER_FILE} `, 'm')).slice(1);
  for (const section of sections) {
    const index = Number(/^(\d+)/.exec(section)?.[1]);
    const file = files[index];
    if (!file) continue;
    const content = section.split(MARKER_END)[0]!.replace(/^\d+/, '');
    const hash = /\b([0-9a-f]{64})\b/.exec(content)?.[1];
    result.set(hashKey(file), hash ?? `no hash: ${content.trim().split('\n')[0] ?? ''}`);
  }
  return result;
}

/** Partition start LBAs (nonzero entries) of the MBR at the start of `image`. */
function mbrStarts(mbr: Uint8Array): number[] {
  const view = new DataView(mbr.buffer, mbr.byteOffset, 512);
  const starts: number[] = [];
  for (let i = 0; i < 4; i++) {
    const entry = 0x1be + 16 * i;
    if (mbr[entry + 4] !== 0) starts.push(view.getUint32(entry + 8, true));
  }
  return starts;
}

/**
 * Install GRUB for BIOS into the MBR and the gap of the MBR-partitioned disk image `image`
 * (512-byte sectors). `workDir` receives core.img and its config.
 */
export function installGrubBios(image: string, files: readonly HashTarget[], workDir: string): { coreSectors: number } {
  requireFiles([[join(I386_PC, 'boot.img'), 'grub-pc-bin'], [join(I386_PC, 'ntfs.mod'), 'grub-pc-bin'], ['/usr/bin/grub-mkimage', 'grub-common']]);
  const config = join(workDir, 'early.cfg');
  const corePath = join(workDir, 'core.img');
  writeFileSync(config, grubScript('mbr', files));
  run('grub-mkimage', ['-O', 'i386-pc', '-d', I386_PC, '-p', '(hd0,msdos1)/', '-c', config, '-o', corePath,
    'biosdisk', 'part_msdos', 'ntfs', 'ntfscomp', 'fat', 'hashsum', 'gcry_sha256', 'serial', 'terminal', 'echo', 'halt']);

  const raw = readFileSync(corePath);
  const coreSectors = Math.ceil(raw.length / 512);
  const core = Buffer.alloc(coreSectors * 512);
  raw.copy(core);
  const fd = openSync(image, 'r+');
  try {
    const mbr = Buffer.alloc(512);
    if (readSync(fd, mbr, 0, 512, 0) !== 512 || mbr.readUInt16LE(510) !== 0xaa55) throw new Error(`${image} has no MBR`);
    if (mbr[0x1be + 4] === 0xee) throw new Error(`${image} has a protective MBR (GPT): BIOS GRUB here needs an MBR disk`);
    const firstStart = Math.min(...mbrStarts(mbr));
    if (!(firstStart > 1 + coreSectors)) throw new Error(`core.img (${coreSectors} sectors) does not fit before the first partition at LBA ${firstStart}`);

    const boot = readFileSync(join(I386_PC, 'boot.img'));
    const sector = Buffer.from(mbr);
    boot.copy(sector, 0, 0, BPB_START); // jump
    boot.copy(sector, BPB_END, BPB_END, WINDOWS_NT_MAGIC); // code; the BPB area and 440–511 stay the disk's
    sector.writeBigUInt64LE(1n, KERNEL_SECTOR);
    sector[BOOT_DRIVE] = 0xff;
    sector[DRIVE_CHECK] = 0x90;
    sector[DRIVE_CHECK + 1] = 0x90;
    // diskboot.img: the rest of core.img follows its first sector.
    core.writeBigUInt64LE(2n, BLOCKLIST);
    core.writeUInt16LE(coreSectors - 1, BLOCKLIST + 8);
    if (core.readUInt16LE(BLOCKLIST + 10) !== 0x820) throw new Error('core.img: unexpected diskboot.img blocklist segment (not GRUB 2 i386-pc?)');
    writeSync(fd, core, 0, core.length, 512);
    writeSync(fd, sector, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  return { coreSectors };
}

function hasDirectory(target: string, dir: string): boolean {
  try {
    execFileSync('mdir', ['-b', '-i', target, dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false; // mdir fails when the directory does not exist; mmd then makes it (and reports its own errors)
  }
}

/**
 * Install a standalone GRUB as \EFI\Boot\BOOTX64.EFI on the FAT ESP starting at byte `espOffset`
 * of the disk image `image`. `workDir` receives the EFI binary and its config.
 */
export function installGrubUefi(image: string, espOffset: number, files: readonly HashTarget[], workDir: string): { efiBytes: number } {
  requireFiles([[join(X86_64_EFI, 'ntfs.mod'), 'grub-efi-amd64-bin'], ['/usr/bin/grub-mkstandalone', 'grub-common'], ['/usr/bin/mcopy', 'mtools']]);
  const config = join(workDir, 'grub.cfg');
  const efi = join(workDir, 'BOOTX64.EFI');
  writeFileSync(config, grubScript('gpt', files));
  const modules = 'part_gpt part_msdos ntfs ntfscomp fat hashsum gcry_sha256 serial terminal echo halt';
  run('grub-mkstandalone', ['-O', 'x86_64-efi', '-d', X86_64_EFI, `--modules=${modules}`, `--install-modules=${modules} normal`,
    '--locales=', '--fonts=', '--themes=', '-o', efi, `boot/grub/grub.cfg=${config}`]);
  const target = `${image}@@${espOffset}`;
  for (const dir of ['::/EFI', '::/EFI/Boot']) {
    if (!hasDirectory(target, dir)) run('mmd', ['-i', target, dir]);
  }
  run('mcopy', ['-o', '-i', target, efi, '::/EFI/Boot/BOOTX64.EFI']);
  return { efiBytes: readFileSync(efi).length };
}

/**
 * Give a GPT disk image that has none an ESP: a new GPT entry (partition `index`, type EF00)
 * written by sgdisk through a loop device with the image's logical sector size (sgdisk and
 * this sfdisk take the sector size only from a device; needs root, as the fixture build does),
 * and a FAT filesystem made by mkfs.fat with that sector size, copied into place.
 */
export function addEsp(image: string, { index, startLba, sizeLba, sectorSize }: { index: number; startLba: number; sizeLba: number; sectorSize: number }, workDir: string): void {
  const loop = run('losetup', ['-b', String(sectorSize), '-f', '--show', image]).trim();
  try {
    run('sgdisk', [`-n${index}:${startLba}:${startLba + sizeLba - 1}`, `-t${index}:ef00`, `-c${index}:EFI system partition`, loop]);
    const verify = run('sgdisk', ['-v', loop]);
    if (!/No problems found/.test(verify)) throw new Error(`sgdisk -v after adding the ESP to ${image}: ${verify}`);
  } finally {
    run('losetup', ['-d', loop]);
  }
  const esp = `${workDir}/esp.img`;
  rmSync(esp, { force: true });
  run('mkfs.fat', ['-S', String(sectorSize), '-s', '1', '-n', 'ESP', '-C', esp, String((sizeLba * sectorSize) / 1024)]);
  const bytes = readFileSync(esp);
  const fd = openSync(image, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, startLba * sectorSize);
  } finally {
    closeSync(fd);
  }
  rmSync(esp);
}
