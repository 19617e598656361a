/**
 * Restored disks boot. GRUB is installed on a copy of each Windows-like fixture (boot.img +
 * core.img in the MBR and its gap for bios-mbr; BOOTX64.EFI on the ESP for uefi-gpt), the copy
 * is booted in QEMU (SeaBIOS / OVMF) and GRUB — an NTFS and FAT reader that is not Lifeboat —
 * prints the SHA-256 of files it read from the Windows volume (C:) and the other volumes, which
 * must equal the manifest's planted hashes. Then the copy is backed up with Lifeboat
 * (intelligent mode), restored to a same-size, a larger (Windows volume grown) and a smaller
 * disk (Windows volume shrunk), and each restored disk must boot the same way and print the
 * same hashes. The 4Kn fixture is also restored onto a disk with 512-byte sectors.
 *
 * Missing QEMU, firmware or GRUB files fail the test with the package to install.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, type FixtureName, type Manifest } from '../test/helpers/fixtures.ts';
import { scratchDir, readBytes } from '../test/helpers/tools.ts';
import { ImageReader, openDiskImage, openFileDevice, planBackup, planRestore, runBackup, runRestore, type RestorePlan } from '../src/index.ts';
import { addEsp, hashKey, installGrubBios, installGrubUefi, MARKER_END, parseHashes, type HashTarget } from './grub.ts';
import { bootDisk, type BootResult, type Firmware } from './qemu.ts';

const scratch = scratchDir('lifeboat-boot-');
test.after.always(() => scratch.remove());

/** Files GRUB hashes, per partition role: C: (a plain, a fragmented and an NTFS-compressed file, the SYSTEM hive) and one file on each other volume. */
const WANTED: Record<string, string[]> = {
  windows: [
    'Users\\Technician\\Documents\\report.txt',
    'Users\\Technician\\Videos\\fragmented.bin',
    'Users\\Technician\\AppData\\Logs\\setup.log',
    'Windows\\System32\\config\\SYSTEM',
  ],
  system: ['Boot\\BCD'],
  esp: ['EFI\\Microsoft\\Boot\\BCD'],
  recovery: ['Recovery\\WindowsRE\\ReAgent.xml'],
  data: ['Data\\advanced-format.txt', 'Data\\blob.bin'], // ntfs-4k's one volume
};

function hashTargets(manifest: Manifest): Array<HashTarget & { sha256: string }> {
  const targets: Array<HashTarget & { sha256: string }> = [];
  for (const p of manifest.partitions) {
    for (const path of WANTED[p.role] ?? []) {
      const planted = p.planted?.[path];
      if (!planted) throw new Error(`${manifest.name} partition ${p.index} (${p.role}): the manifest plants no ${path}`);
      targets.push({ partition: p.index, path, sha256: planted.sha256 });
    }
  }
  if (!targets.some((f) => manifest.partitions.find((p) => p.index === f.partition)?.fs === 'ntfs')) {
    throw new Error(`${manifest.name}: no NTFS file to read`);
  }
  return targets;
}

function copySparse(from: string, to: string): string {
  execFileSync('cp', ['--sparse=always', from, to]);
  return to;
}


/** A sparse target whose first 2 MiB hold random bytes: a used disk, not a blank one that happens to match. */
function targetFile(path: string, size: number): string {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, size);
    writeSync(fd, randomBytes(2 << 20), 0, 2 << 20, 0);
  } finally {
    closeSync(fd);
  }
  return path;
}

interface Prepared {
  manifest: Manifest;
  firmware: Firmware;
  files: Array<HashTarget & { sha256: string }>;
  /** The fixture copy with GRUB on it. */
  disk: string;
  /** Bytes at the start of the disk that must come back from a restore for BIOS GRUB to load (MBR code + core.img). */
  bootBytes: number;
  image: Promise<string>;
}

interface Case {
  name: FixtureName;
  firmware: Firmware;
  timeoutMs: number;
  /** ntfs-4k has no ESP: one is added to the copy (12 MiB after its last partition) to hold GRUB. */
  addEsp?: boolean;
  /** How much smaller the smaller target is: the free space past the last partition plus what the Windows volume can give up (its data reaches close to its end). */
  smallerBy: number;
}

const CASES: Case[] = [
  { name: 'bios-mbr', firmware: 'bios', timeoutMs: 30_000, smallerBy: 8 << 20 }, // 7 MiB of it free space past the last partition
  { name: 'uefi-gpt', firmware: 'uefi', timeoutMs: 90_000, smallerBy: 36 << 20 }, // 31 MiB of it free space past the last partition
  { name: 'ntfs-4k', firmware: 'uefi', timeoutMs: 90_000, addEsp: true, smallerBy: 8 << 20 },
];

const prepared = new Map<FixtureName, Prepared>();
function prepare({ name, firmware, addEsp: withEsp }: Case): Prepared {
  const existing = prepared.get(name);
  if (existing) return existing;
  const { image: source, manifest } = fixture(name);
  const files = hashTargets(manifest);
  const work = join(scratch.dir, name);
  mkdirSync(work, { recursive: true });
  const disk = copySparse(source, join(work, `${name}-grub.img`));
  let bootBytes = 0;
  if (firmware === 'bios') {
    bootBytes = (1 + installGrubBios(disk, files, work).coreSectors) * 512;
  } else {
    const s = manifest.sectorSize;
    let espLba = manifest.partitions.find((p) => p.role === 'esp')?.startLba;
    if (espLba === undefined && withEsp) {
      const mib = (1 << 20) / s;
      espLba = Math.ceil(Math.max(...manifest.partitions.map((p) => p.startLba + p.sizeLba)) / mib) * mib;
      addEsp(disk, { index: manifest.partitions.length + 1, startLba: espLba, sizeLba: 12 * mib, sectorSize: s }, work);
    }
    if (espLba === undefined) throw new Error(`${name} has no ESP`);
    installGrubUefi(disk, espLba * s, files, work);
  }
  const image = (async () => {
    const device = await openDiskImage(disk);
    try {
      const destination = join(work, `${name}.lbimg`);
      await runBackup(device, await planBackup(device, { mode: 'intelligent' }), { destination, threads: 2 });
      return destination;
    } finally {
      await device.close();
    }
  })();
  image.catch(() => {}); // awaited by the restore tests; this only keeps an early rejection from going unhandled
  const p = { manifest, firmware, files, disk, bootBytes, image };
  prepared.set(name, p);
  return p;
}

async function restore(imagePath: string, targetPath: string, sectorSize: number): Promise<RestorePlan> {
  const reader = await ImageReader.open(imagePath);
  const target = await openFileDevice(targetPath, { writable: true, sectorSize });
  try {
    const plan = await planRestore(reader, target);
    await runRestore(reader, target, plan, { confirmTarget: target.name });
    return plan;
  } finally {
    await target.close();
    await reader.close();
  }
}

const tail = (serial: string) => serial.replace(/\x1b\[[0-9;?=]*[A-Za-z]/g, '').replaceAll('\r', '').slice(-1500);

/** Boot `disk` and check that GRUB printed every planted hash. */
async function bootsAndHashes(t: import('ava').ExecutionContext, p: Prepared, disk: string, what: string, timeoutMs: number,
  sectorSize: 512 | 4096 = p.manifest.sectorSize === 4096 ? 4096 : 512): Promise<BootResult> {
  const result = await bootDisk(disk, { firmware: p.firmware, timeoutMs, sectorSize });
  t.log(`${what}: ${p.firmware === 'bios' ? 'SeaBIOS' : 'OVMF'}${sectorSize === 4096 ? ' (virtio-blk, 4096-byte sectors)' : ''} boot to GRUB's halt in ${Math.round(result.ms)} ms`);
  const problem = result.timedOut ? `QEMU was killed after ${timeoutMs} ms` : !result.serial.includes(MARKER_END) ? 'GRUB did not reach the end of its script' : '';
  if (problem) {
    t.fail(`${what} did not boot to the end: ${problem}. Serial port:\n${tail(result.serial)}`);
    return result;
  }
  const printed = parseHashes(result.serial, p.files);
  for (const f of p.files) {
    t.is(printed.get(hashKey(f)), f.sha256, `${what}: SHA-256 GRUB read from partition ${f.partition} \\${f.path}`);
  }
  return result;
}

for (const c of CASES) {
  const label = (c.firmware === 'bios' ? 'SeaBIOS, GRUB in the MBR and its gap' : 'OVMF, GRUB as \\EFI\\Boot\\BOOTX64.EFI') +
    (c.addEsp ? ' on an ESP added to the copy, 4096-byte sectors' : '');
  test(`${c.name} with GRUB installed boots (${label}) and GRUB prints the planted files' hashes`, async (t) => {
    t.timeout(c.timeoutMs * 2);
    const p = prepare(c);
    await bootsAndHashes(t, p, p.disk, `${c.name} + GRUB (before backup)`, c.timeoutMs);
  });

  for (const grow of [0, 64 << 20, -c.smallerBy]) {
    const size = grow > 0 ? 'a larger (+64 MiB)' : grow < 0 ? `a smaller (−${-grow >> 20} MiB, Windows volume shrunk)` : 'a same-size';
    test(`${c.name} backed up (intelligent) and restored to ${size} disk boots and GRUB reads the same hashes`, async (t) => {
      t.timeout(c.timeoutMs * 3);
      const p = prepare(c);
      const imagePath = await p.image;
      const target = targetFile(join(scratch.dir, c.name, `restored-${grow}.img`), p.manifest.size + grow);
      const started = performance.now();
      const plan = await restore(imagePath, target, p.manifest.sectorSize);
      t.log(`restore to ${size} disk: ${Math.round(performance.now() - started)} ms`);
      const resized = plan.partitions.filter((q) => q.resize).map((q) => q.resize);
      t.deepEqual(resized, grow > 0 ? ['grow'] : grow < 0 ? ['shrink'] : [], 'the Windows volume was resized as the disk size asks');
      if (p.bootBytes > 0) {
        // Say precisely what is missing before booting: BIOS GRUB needs the MBR code and the gap as they were.
        const want = readBytes(p.disk, 0, p.bootBytes);
        const got = readBytes(target, 0, p.bootBytes);
        t.is(Buffer.compare(got.subarray(0, 440), want.subarray(0, 440)), 0, 'MBR boot code (bytes 0-439) restored');
        t.is(Buffer.compare(got.subarray(512), want.subarray(512)), 0, `gap sectors 1..${p.bootBytes / 512 - 1} (core.img) restored`);
      }
      await bootsAndHashes(t, p, target, `${c.name} restored to ${size} disk`, c.timeoutMs);
    });
  }
}

test('ntfs-4k (4096-byte sectors) restored onto a disk with 512-byte sectors boots (OVMF) and GRUB reads the same hashes', async (t) => {
  const c = CASES.find((x) => x.name === 'ntfs-4k')!;
  t.timeout(c.timeoutMs * 3);
  const p = prepare(c);
  const target = targetFile(join(scratch.dir, c.name, 'restored-512.img'), p.manifest.size);
  const plan = await restore(await p.image, target, 512);
  t.deepEqual(plan.sectorSizeChange, { from: 4096, to: 512, partitions: [1, 2] }, 'the NTFS volume and the ESP are rewritten for 512-byte sectors');
  await bootsAndHashes(t, p, target, 'ntfs-4k restored to 512-byte sectors', c.timeoutMs, 512);
});

test('bios-mbr restored with a new disk identity onto a larger disk, then boot-repaired, still boots and GRUB reads the rewritten hives', async (t) => {
  const c = CASES.find((x) => x.name === 'bios-mbr')!;
  t.timeout(c.timeoutMs * 3);
  const p = prepare(c);
  const targetPath = targetFile(join(scratch.dir, c.name, 'restored-repaired.img'), p.manifest.size + (64 << 20));
  const reader = await ImageReader.open(await p.image);
  const target = await openFileDevice(targetPath, { writable: true });
  let result;
  try {
    const plan = await planRestore(reader, target, { newDiskId: true });
    result = await runRestore(reader, target, plan, { confirmTarget: target.name, repairBoot: true });
  } finally {
    await target.close();
    await reader.close();
  }
  t.deepEqual(result.bootRepair?.rewritten.map((r) => r.path), ['Boot\\BCD', 'Windows\\System32\\config\\SYSTEM']);
  // The hives changed on purpose: GRUB must read what ntfscat reads from the restored disk.
  const layout = JSON.parse(execFileSync('sfdisk', ['-J', targetPath], { encoding: 'utf8' })) as { partitiontable: { partitions: Array<{ start: number; size: number }> } };
  const expected = p.files.map((f) => {
    if (!/\\(BCD|SYSTEM)$/.test(f.path)) return f;
    const part = layout.partitiontable.partitions[f.partition - 1]!;
    const vol = join(scratch.dir, c.name, `repaired-p${f.partition}.img`);
    execFileSync('sh', ['-c', `dd if=${targetPath} of=${vol} bs=512 skip=${part.start} count=${part.size} status=none`]);
    const bytes = execFileSync('ntfscat', [vol, `/${f.path.replaceAll('\\', '/')}`], { maxBuffer: 64 << 20 });
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    t.not(sha256, f.sha256, `${f.path} was rewritten`);
    return { ...f, sha256 };
  });
  await bootsAndHashes(t, { ...p, files: expected }, targetPath, 'bios-mbr restored with a new identity and boot-repaired', c.timeoutMs);
});

test('control: the bios-mbr disk with its gap (core.img) zeroed does not boot, so a restore that loses the gap fails these tests', async (t) => {
  const p = prepare(CASES[0]!);
  const broken = copySparse(p.disk, join(scratch.dir, 'bios-mbr', 'no-gap.img'));
  const fd = openSync(broken, 'r+');
  try {
    writeSync(fd, Buffer.alloc(p.bootBytes - 512), 0, p.bootBytes - 512, 512);
  } finally {
    closeSync(fd);
  }
  const result = await bootDisk(broken, { firmware: 'bios', timeoutMs: 6_000 });
  t.log(`no gap: ${result.timedOut ? 'killed at the timeout' : 'QEMU ended'} after ${Math.round(result.ms)} ms`);
  t.regex(result.serial, /Booting from Hard Disk/, 'SeaBIOS reached the disk, so what fails is the missing gap');
  t.false(result.serial.includes(MARKER_END), tail(result.serial));
  t.is(parseHashes(result.serial, p.files).size, 0);
});
