/** Test-only helpers for the boot suites: identities as the fixture manifests' independent readings give them. */
import type { Manifest } from '../../test/helpers/fixtures.ts';
import type { PartitionIdentity } from './bcd-device.ts';

/**
 * The identity of the manifest partition with `role`, from `sfdisk --json` of the fixture disk
 * (manifest.table): the label-id and the partition's start, or the disk GUID and its uuid.
 */
export function manifestIdentity(m: Manifest, role: string): PartitionIdentity {
  const p = m.partitions.find((q) => q.role === role);
  if (!p) throw new Error(`${m.name} has no ${role} partition`);
  const read = m.table.sfdisk.partitions.find((q) => q['start'] === p.startLba);
  if (!read) throw new Error(`sfdisk did not list a partition at ${p.startLba} on ${m.name}`);
  return m.scheme === 'mbr'
    ? { style: 'mbr', diskSignature: Number.parseInt(m.table.sfdisk.id, 16), partitionOffset: BigInt(p.startLba * m.sectorSize) }
    : { style: 'gpt', diskGuid: m.table.sfdisk.id.toLowerCase(), partitionGuid: String(read['uuid']).toLowerCase() };
}
