/**
 * Access to the fixture disks built by scripts/build-fixtures and their manifests of readings
 * taken with independent tools (docs/fixtures.md). `npm test` builds them before ava starts.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURE_NAMES = ['bios-mbr', 'uefi-gpt', 'mixed-mbr', 'ntfs-4k', 'ntfs-stress'] as const;
export type FixtureName = (typeof FIXTURE_NAMES)[number];

export interface PlantedFile {
  size: number;
  sha256: string;
  hardLinkOf?: string;
  streams?: Record<string, { size: number; sha256: string }>;
}

export interface ManifestPartition {
  index: number;
  startLba: number;
  sizeLba: number;
  role: string;
  fs: string;
  label: string;
  type: string;
  uuid?: string;
  attributes?: string;
  active?: boolean;
  planted?: Record<string, PlantedFile>;
  reading?: Record<string, unknown>;
  excludedFiles?: Record<string, number>;
  diffArea?: { files: Record<string, number>; bytes: number };
  deletedMarker?: string;
}

export interface Manifest {
  name: string;
  file: string;
  size: number;
  sectorSize: number;
  scheme: 'mbr' | 'gpt';
  diskSignature?: string;
  diskGuid?: string;
  partitions: ManifestPartition[];
  table: { sfdisk: { label: string; id: string; partitions: Array<Record<string, unknown>> } };
  bcd?: Array<{ partition: number; path: string; export: string }>;
  systemHive?: { partition: number; path: string; export: string; mountedDevices: Record<string, string> };
}

export function fixtureDir(): string {
  const cache = join(ROOT, '.cache', 'fixtures');
  let key: string;
  try {
    key = readFileSync(join(cache, 'current'), 'utf8').trim();
  } catch {
    throw new Error('fixtures are not built: run scripts/build-fixtures (npm test does)');
  }
  return join(cache, key);
}

export function fixture(name: FixtureName): { image: string; manifest: Manifest } {
  const dir = fixtureDir();
  return {
    image: join(dir, `${name}.img`),
    manifest: JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Manifest,
  };
}
