/**
 * `fix-boot`: boot repair for a disk on its own, with no restore to say what changed. What it
 * infers, it shows before changing anything:
 *
 * - the disk the BCD stores were made for: a store on this disk whose partition devices name
 *   another MBR signature (or GPT disk GUID) at offsets (or partition GUIDs) that all exist on
 *   this disk was made for this disk before its identity changed — its elements and the
 *   matching MountedDevices values are rewritten to this disk's identity;
 * - on MBR: boot code that is all zeros gets Lifeboat's own; with no active partition, the one
 *   holding `\Boot\BCD` is marked active;
 * - on an ESP holding `\EFI\Microsoft\Boot\bootmgfw.efi` but no `\EFI\Boot\bootx64.efi`, the
 *   first is copied to the second: the firmware's fallback path boots the disk without an NVRAM
 *   entry (after moving it to another machine).
 */
import type { ReadableDevice, WritableDevice } from '../device/block-device.ts';
import { partitionDevice } from '../device/partition-device.ts';
import { NotFoundError } from '../errors.ts';
import { writeFatFile } from '../fs/fat/fat-writer.ts';
import { openFilesystem } from '../fs/open-filesystem.ts';
import { probeFilesystem } from '../fs/probe.ts';
import { GPT_TYPE } from '../partition/types.ts';
import { decodeMbr, encodeMbr } from '../partition/mbr.ts';
import { readDiskLayout, type DiskLayout } from '../partition/disk-layout.ts';
import { writeAndVerify } from '../partition/table-write.ts';
import { openHive } from '../registry/index.ts';
import { readBcd } from './bcd.ts';
import type { IdentityMapping } from './boot-identity-plan.ts';
import { findBootFiles, openBootFileVolume, type BootFile } from './boot-files.ts';
import { LIFEBOAT_MBR_CODE } from './mbr-code.ts';
import { planBootRepair, runBootRepair, type BootRepairPlan, type BootRepairResult } from './repair.ts';

export interface FixBootPlan {
  disk: string;
  scheme: DiskLayout['scheme'];
  found: BootFile[];
  /** The identity change inferred from the stores, when there is exactly one. */
  mapping?: IdentityMapping;
  repair?: BootRepairPlan;
  /** MBR: write Lifeboat's boot code (the disk's is all zeros). */
  writeMbrCode: boolean;
  /** MBR: mark this partition active (none is, and it holds \Boot\BCD). */
  activate?: number;
  /** Copy bootmgfw.efi to the fallback path on this ESP partition. */
  fallbackLoader?: number;
  notes: string[];
}

export interface FixBootResult {
  repair?: BootRepairResult;
  wroteMbrCode: boolean;
  activated?: number;
  /** The ESP partition that got \EFI\Boot\bootx64.efi. */
  fallbackLoader?: number;
}

export const BOOTMGFW = 'EFI\\Microsoft\\Boot\\bootmgfw.efi';
export const FALLBACK_LOADER = 'EFI\\Boot\\bootx64.efi';

/** The ESP (FAT) that holds bootmgfw.efi but not the fallback loader, if any. */
async function espWithoutFallback(disk: ReadableDevice, layout: DiskLayout): Promise<number | undefined> {
  for (const p of layout.partitions.filter((q) => q.type === GPT_TYPE.esp)) {
    const volume = partitionDevice(disk, p.offset, p.size, `${disk.name} partition ${p.index}`);
    const kind = await probeFilesystem(volume);
    if (kind !== 'fat12' && kind !== 'fat16' && kind !== 'fat32') continue;
    const fs = (await openFilesystem(volume, kind))!;
    const has = async (path: string) => {
      try {
        return !(await fs.stat(path)).isDirectory;
      } catch (e) {
        if (e instanceof NotFoundError) return false; // absent is the answer sought
        throw e;
      }
    };
    if ((await has(BOOTMGFW)) && !(await has(FALLBACK_LOADER))) return p.index;
  }
  return undefined;
}

type Seen = Map<string, Set<string>>;

/** Partition identities the disk's BCD stores name: MBR signature → offsets, or disk GUID → partition GUIDs. */
async function namedByStores(disk: ReadableDevice, stores: BootFile[]): Promise<{ mbr: Seen; gpt: Seen }> {
  const mbr: Seen = new Map();
  const gpt: Seen = new Map();
  const add = (m: Seen, k: string, v: string) => m.set(k, (m.get(k) ?? new Set()).add(v));
  for (const file of stores) {
    const { fs } = await openBootFileVolume(disk, file);
    const store = readBcd(openHive(await fs.readFile(file.path), `partition ${file.partition} \\${file.path}`));
    for (const { element } of store.elements()) {
      if (element.value.kind !== 'device' || element.value.device.kind !== 'partition') continue;
      const p = element.value.device.partition;
      if (p.style === 'mbr') add(mbr, String(p.diskSignature >>> 0), String(p.partitionOffset));
      else add(gpt, p.diskGuid, p.partitionGuid);
    }
  }
  return { mbr, gpt };
}

function inferMapping(layout: DiskLayout, named: { mbr: Seen; gpt: Seen }, notes: string[]): IdentityMapping | undefined {
  const candidates: IdentityMapping[] = [];
  if (layout.scheme === 'mbr') {
    const signature = Number.parseInt(layout.diskId ?? '0', 16);
    const offsets = new Set(layout.partitions.map((p) => String(p.offset)));
    for (const [sig, used] of named.mbr) {
      if (Number(sig) === signature) continue;
      const hex = Number(sig).toString(16).padStart(8, '0');
      if ([...used].every((o) => offsets.has(o))) {
        candidates.push({ scheme: 'mbr', oldSignature: Number(sig), newSignature: signature, partitions: layout.partitions.map((p) => ({ oldOffset: p.offset, newOffset: p.offset })) });
      } else {
        notes.push(`the BCD names disk ${hex} at offsets this disk has no partition at; left alone`);
      }
    }
  } else if (layout.scheme === 'gpt') {
    const guids = new Set(layout.partitions.map((p) => p.guid));
    for (const [diskGuid, used] of named.gpt) {
      if (diskGuid === layout.diskId) continue;
      if ([...used].every((g) => guids.has(g))) {
        candidates.push({ scheme: 'gpt', oldDiskGuid: diskGuid, newDiskGuid: layout.diskId!, partitions: layout.partitions.map((p) => ({ oldGuid: p.guid!, newGuid: p.guid! })) });
      } else {
        notes.push(`the BCD names disk ${diskGuid} with partitions this disk does not have; left alone`);
      }
    }
  }
  if (candidates.length > 1) {
    notes.push(`the BCD names ${candidates.length} earlier identities of this disk; nothing rewritten: restore with boot repair, or rebuild the store`);
    return undefined;
  }
  return candidates[0];
}

export async function planFixBoot(disk: ReadableDevice): Promise<FixBootPlan> {
  const layout = await readDiskLayout(disk);
  const found = await findBootFiles(disk);
  const notes: string[] = [];
  const mapping = inferMapping(layout, await namedByStores(disk, found.filter((f) => f.kind === 'bcd')), notes);
  const repair = mapping ? await planBootRepair(disk, mapping) : undefined;
  if (!mapping && notes.length === 0) notes.push(found.some((f) => f.kind === 'bcd') ? 'the BCD stores already name this disk' : 'no BCD store found on this disk');
  let writeMbrCode = false;
  let activate: number | undefined;
  if (layout.scheme === 'mbr') {
    writeMbrCode = await needsMbrCode(disk);
    const holder = found.find((f) => f.kind === 'bcd' && f.path === 'Boot\\BCD');
    if (!layout.partitions.some((p) => p.active) && holder && holder.partition <= 4) activate = holder.partition;
  }
  const fallbackLoader = layout.scheme === 'gpt' ? await espWithoutFallback(disk, layout) : undefined;
  return {
    disk: disk.name, scheme: layout.scheme, found, ...(mapping ? { mapping } : {}), ...(repair ? { repair } : {}), writeMbrCode,
    ...(activate ? { activate } : {}), ...(fallbackLoader ? { fallbackLoader } : {}), notes,
  };
}

/** MBR boot code that is all zeros cannot start anything: such a disk needs fresh code. */
export async function needsMbrCode(disk: ReadableDevice): Promise<boolean> {
  return decodeMbr(await disk.read(0, 512)).bootCode.every((b) => b === 0);
}

/** Write Lifeboat's boot code over bytes 0–439 and/or mark a partition active; the rest of the MBR stays. */
export async function patchMbr(disk: WritableDevice, change: { code: boolean; activate?: number }): Promise<void> {
  const mbr = decodeMbr(await disk.read(0, 512));
  const bootCode = change.code ? new Uint8Array(440) : mbr.bootCode;
  if (change.code) bootCode.set(LIFEBOAT_MBR_CODE);
  const entries = mbr.entries.map((e, i) => (change.activate === i + 1 ? { ...e, status: 0x80 } : e));
  await writeAndVerify(disk, [{ offset: 0, bytes: encodeMbr({ ...mbr, bootCode, entries }), what: 'MBR' }]);
}

export async function runFixBoot(disk: WritableDevice, plan: FixBootPlan): Promise<FixBootResult> {
  const repair = plan.repair ? await runBootRepair(disk, plan.repair) : undefined;
  if (plan.writeMbrCode || plan.activate) await patchMbr(disk, { code: plan.writeMbrCode, ...(plan.activate ? { activate: plan.activate } : {}) });
  if (plan.fallbackLoader) {
    const layout = await readDiskLayout(disk);
    const p = layout.partitions.find((q) => q.index === plan.fallbackLoader)!;
    const volume = partitionDevice(disk, p.offset, p.size, `${disk.name} partition ${p.index}`);
    const fs = (await openFilesystem(volume, await probeFilesystem(volume)))!;
    await writeFatFile(volume, FALLBACK_LOADER, await fs.readFile(BOOTMGFW));
  }
  return {
    ...(repair ? { repair } : {}), wroteMbrCode: plan.writeMbrCode, ...(plan.activate ? { activated: plan.activate } : {}),
    ...(plan.fallbackLoader ? { fallbackLoader: plan.fallbackLoader } : {}),
  };
}
