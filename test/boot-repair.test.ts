/**
 * Boot repair after a whole-disk restore with a new disk identity onto a larger disk (the
 * Recovery partition moved): hivexregedit, reading the rewritten BCD and SYSTEM hives from the
 * restored volumes (ntfscat / mcopy), finds exactly the planned values changed — every
 * partition device element and MountedDevices value naming the restored disk's new identity and
 * offsets — and everything else byte-identical; hivexsh and chntpw's reged load the hives, and
 * ntfsfix / fsck.fat stay clean.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, type FixtureName } from './helpers/fixtures.ts';
import { extractRange, scratchDir, tool, toolBytes } from './helpers/tools.ts';
import { parseRegExport, type HiveListing } from '../src/registry/test-support.ts';
import { decodeBcdDevice } from '../src/boot/bcd-device.ts';
import { decodeMountedDevice } from '../src/boot/mounted-devices.ts';
import { identityMappingFromRestore, planBootRepair, runBootRepair } from '../src/boot/repair.ts';
import { readDiskLayout, type DiskLayout } from '../src/partition/disk-layout.ts';
import { ImageReader, openDiskImage, openFileDevice, planBackup, planRestore, runBackup, runRestore } from '../src/index.ts';

const scratch = scratchDir('lifeboat-boot-repair-');
test.after.always(() => scratch.remove());
let n = 0;

interface Where { partition: number; path: string; fs: 'ntfs' | 'fat' }

function hiveOnDisk(disk: string, layout: DiskLayout, w: Where): HiveListing {
  const p = layout.partitions.find((q) => q.index === w.partition)!;
  const part = extractRange(disk, p.offset, p.size, join(scratch.dir, `part-${n++}.img`));
  const unix = `/${w.path.replaceAll('\\', '/')}`;
  const bytes = w.fs === 'ntfs' ? toolBytes('ntfscat', [part, unix]) : toolBytes('mcopy', ['-n', '-i', part, `::${unix}`, '-']);
  const file = join(scratch.dir, `hive-${n++}`);
  writeFileSync(file, bytes);
  tool('hivexsh', ['-d', file]); // opens it, with hivex's own checks, or throws
  tool('reged', ['-x', file, 'HKEY_LOCAL_MACHINE\\X', '\\', join(scratch.dir, `reged-${n++}.reg`)]);
  if (w.fs === 'ntfs') tool('ntfsfix', ['-n', part]);
  else tool('fsck.fat', ['-n', part]);
  return parseRegExport(tool('hivexregedit', ['--export', file, '\\']));
}

/** "key\value" → "type:hex" for every value, to diff two listings. */
const flat = (l: HiveListing) => new Map([...l].flatMap(([k, values]) => [...values].map(([v, d]) => [`${k}\\${v}`, d] as const)));

for (const [name, extra] of [['bios-mbr', 64 << 20], ['uefi-gpt', 96 << 20]] as const) {
  test(`${name} restored with a new disk identity onto a larger disk: BCD and MountedDevices name the restored partitions`, async (t) => {
    const { image, manifest } = fixture(name as FixtureName);
    const device = await openDiskImage(image);
    const lbimg = join(scratch.dir, `${name}.lbimg`);
    await runBackup(device, await planBackup(device, { mode: 'intelligent' }), { destination: lbimg, threads: 2 });
    await device.close();
    const targetPath = join(scratch.dir, `${name}-target.img`);
    tool('truncate', ['-s', String(manifest.size + extra), targetPath]);
    const reader = await ImageReader.open(lbimg);
    const target = await openFileDevice(targetPath, { writable: true });
    t.teardown(() => target.close());
    const plan = await planRestore(reader, target, { newDiskId: true });
    const result = await runRestore(reader, target, plan, { confirmTarget: target.name });
    await reader.close();
    const layout = await readDiskLayout(target);
    t.true(plan.partitions.some((p) => p.to.offset !== p.from.offset), 'a partition moved');

    const bcd = manifest.bcd![0]!;
    const where: Where[] = [
      { partition: bcd.partition, path: bcd.path, fs: manifest.partitions.find((p) => p.index === bcd.partition)!.fs === 'ntfs' ? 'ntfs' : 'fat' },
      { partition: manifest.systemHive!.partition, path: manifest.systemHive!.path, fs: 'ntfs' },
    ];
    const before = where.map((w) => flat(hiveOnDisk(targetPath, layout, w)));

    const repair = await planBootRepair(target, identityMappingFromRestore(plan, result, layout));
    t.deepEqual(repair.hives.map((h) => [h.file.kind, h.file.partition]), [['bcd', where[0]!.partition], ['system', where[1]!.partition]]);
    const done = await runBootRepair(target, repair);
    t.true(done.rewritten.every((r) => r.edits > 0));

    const after = where.map((w) => flat(hiveOnDisk(targetPath, layout, w)));
    const identities = layout.partitions.map((p) => (layout.scheme === 'mbr'
      ? `mbr ${Number.parseInt(layout.diskId!, 16)} ${p.offset}` : `gpt ${layout.diskId} ${p.guid}`));
    let checked = 0;
    for (const [i, h] of repair.hives.entries()) {
      const changed = [...after[i]!].filter(([k, v]) => before[i]!.get(k) !== v).map(([k]) => k).sort();
      t.deepEqual(changed, h.edits.map((e) => `\\${e.keyPath}\\${e.valueName}`).sort(), `${h.file.path}: exactly the planned values changed`);
      t.is(after[i]!.size, before[i]!.size, 'no value added or lost');
      for (const e of h.edits) t.is(after[i]!.get(`\\${e.keyPath}\\${e.valueName}`)!.split(':')[1], Buffer.from(e.newData).toString('hex'));
      for (const [k, v] of after[i]!) {
        const data = Buffer.from(v.split(':')[1]!, 'hex');
        if (h.file.kind === 'bcd' && /\\Elements\\[12]1000001\\Element$/.test(k)) {
          const d = decodeBcdDevice(data);
          if (d.kind !== 'partition') continue;
          const id = d.partition.style === 'mbr' ? `mbr ${d.partition.diskSignature} ${d.partition.partitionOffset}` : `gpt ${d.partition.diskGuid} ${d.partition.partitionGuid}`;
          t.true(identities.includes(id), `${k} names ${id}, a partition of the restored disk`);
          checked++;
        }
        if (h.file.kind === 'system' && k.startsWith('\\MountedDevices\\')) {
          const m = decodeMountedDevice(data);
          if (m.kind === 'mbr') t.true(identities.includes(`mbr ${m.diskSignature} ${m.partitionOffset}`), k);
          if (m.kind === 'gpt') t.true(layout.partitions.some((p) => p.guid === m.partitionGuid), k);
          if (m.kind !== 'other') checked++;
        }
      }
    }
    t.log(`${repair.hives.map((h) => `${h.file.path}: ${h.edits.length} edits, ${h.untouched.length} left alone`).join('; ')}; ${checked} identities checked`);
    t.true(checked >= 4);
  });
}
