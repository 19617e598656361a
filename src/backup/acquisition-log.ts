/**
 * The acquisition log of a forensic backup (docs/forensic.md): who took the image, of what
 * device, when, with which hashes and which ranges could not be read. Built from the plan, the
 * result and the options as plain data plus a plain-text report; writing the files is the
 * front end's job, so this module never touches the filesystem or the console.
 */
import { partPath } from '../image/format.ts';
import type { BackupPlan } from './plan.ts';
import type { BackupOptions, BackupResult, HashName } from './run-backup.ts';

/** What a verification right after the backup found; the log records it when there was one. */
export interface LogVerification {
  finished: string;
  complete: boolean;
  problems: number;
  hashesMatch: boolean;
}

export interface AcquisitionLog {
  format: 'lifeboat-acquisition-log';
  version: 1;
  tool: string;
  examiner: string | null;
  caseNumber: string | null;
  evidenceId: string | null;
  notes: string | null;
  device: {
    name: string;
    size: number;
    sectorSize: number;
    sectors: number;
    scheme: string;
    model: string | null;
    serial: string | null;
    solidState: boolean | null;
  };
  started: string | null;
  finished: string | null;
  hashes: Partial<Record<HashName, string>>;
  /** Device byte ranges that could not be read, [offset, length]; their bytes are zeros in the image and in the hashes. */
  unreadable: Array<[number, number]>;
  unreadableBytes: number;
  image: { path: string; parts: string[]; bytes: number; chunkSize: number; chunks: number; zeroChunks: number; encrypted: boolean };
  verification: LogVerification | null;
  /** Caveats an examiner must know to read the hashes right (the SSD note). */
  remarks: string[];
}

export const SSD_REMARK =
  'The device reports itself as a solid-state drive. On an SSD, data that was deleted and TRIMmed ' +
  '(or garbage-collected by the drive) may read as zeros, and reading the same device again later may ' +
  'not give the same bytes or hashes: the drive can erase TRIMmed blocks on its own while powered.';

const HASH_LABELS: Record<HashName, string> = { sha256: 'SHA-256', md5: 'MD5', sha1: 'SHA-1' };

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

export function buildAcquisitionLog(
  plan: BackupPlan,
  result: BackupResult,
  options: Pick<BackupOptions, 'acquisition' | 'identity' | 'passphrase' | 'chunkSize'>,
  verification?: LogVerification,
): AcquisitionLog {
  // The image's own metadata is what a later reader sees, so the log repeats it rather than the options.
  const meta = result.metadata;
  const recorded = (meta.acquisition ?? {}) as Record<string, unknown>;
  const source = (meta.source ?? {}) as Record<string, unknown>;
  const info = options.acquisition ?? {};
  const identity = options.identity ?? {};
  const unreadable = (meta.unreadable ?? []) as Array<[number, number]>;
  const solidState = typeof source.solidState === 'boolean' ? source.solidState : identity.solidState ?? null;
  return {
    format: 'lifeboat-acquisition-log',
    version: 1,
    tool: text(meta.tool) ?? 'lifeboat',
    examiner: text(recorded.examiner) ?? text(info.examiner),
    caseNumber: text(recorded.caseNumber) ?? text(info.caseNumber),
    evidenceId: text(recorded.evidenceId) ?? text(info.evidenceId),
    notes: text(recorded.notes) ?? text(info.notes),
    device: {
      name: plan.source.name,
      size: plan.source.size,
      sectorSize: plan.source.sectorSize,
      sectors: Math.floor(plan.source.size / plan.source.sectorSize),
      scheme: plan.layout.scheme,
      model: text(source.model) ?? text(identity.model),
      serial: text(source.serial) ?? text(identity.serial),
      solidState,
    },
    started: text(recorded.started),
    finished: text(recorded.finished),
    hashes: { ...result.hashes },
    unreadable,
    unreadableBytes: unreadable.reduce((s, [, length]) => s + length, 0),
    image: {
      path: result.path,
      parts: Array.from({ length: result.parts }, (_, i) => partPath(result.path, i + 1)),
      bytes: result.imageBytes,
      chunkSize: typeof meta.chunkSize === 'number' ? meta.chunkSize : options.chunkSize ?? 0,
      chunks: result.chunks,
      zeroChunks: result.zeroChunks,
      encrypted: options.passphrase !== undefined,
    },
    verification: verification ?? null,
    remarks: solidState === true ? [SSD_REMARK] : [],
  };
}

/** Seconds between two ISO times, or null when either is missing. */
function duration(started: string | null, finished: string | null): string | null {
  if (!started || !finished) return null;
  const ms = Date.parse(finished) - Date.parse(started);
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : null;
}

/**
 * The words of each paragraph as lines that fit 78 columns after `indent`, so long notes stay
 * readable on paper; the caller joins them under its own indent.
 */
function wrap(value: string, indent: string, width = 78): string[] {
  const lines: string[] = [];
  for (const paragraph of value.split(/\r?\n/)) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line && indent.length + line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    lines.push(line);
  }
  return lines;
}

/** The log as a plain-text report, for printing and signing; the JSON file holds the same facts. */
export function formatAcquisitionLog(log: AcquisitionLog): string {
  const unknown = 'not recorded';
  // Values line up in one column; several lines of a value (parts, wrapped notes) keep that column.
  const field = (label: string, value: string | null | string[], indent = '', wrapped = false) => {
    const head = `${indent}${label}:`.padEnd(19);
    const pad = ' '.repeat(head.length);
    const values = Array.isArray(value) ? value : [value ?? unknown];
    return head + values.flatMap((v) => (wrapped ? wrap(v, pad) : [v])).join(`\n${pad}`);
  };
  const d = log.device;
  const lines = [
    'Lifeboat forensic acquisition log',
    '=================================',
    '',
    field('Tool', log.tool),
    field('Examiner', log.examiner),
    field('Case number', log.caseNumber),
    field('Evidence id', log.evidenceId),
    field('Notes', log.notes, '', true),
    '',
    'Device',
    field('Name', d.name, '  '),
    field('Size', `${d.size} bytes`, '  '),
    field('Sector size', `${d.sectorSize} bytes (${d.sectors} sectors)`, '  '),
    field('Partition table', d.scheme === 'none' ? 'none found' : d.scheme.toUpperCase(), '  '),
    field('Model', d.model ?? 'not known', '  '),
    field('Serial', d.serial ?? 'not known', '  '),
    field('Solid-state', d.solidState === null ? 'not known' : d.solidState ? 'yes' : 'no', '  '),
    '',
    'Acquisition (UTC)',
    field('Started', log.started, '  '),
    field('Finished', log.finished, '  '),
    field('Duration', duration(log.started, log.finished), '  '),
    '',
    `Hashes of the device data (all ${d.size} bytes, in order)`,
    ...(Object.keys(log.hashes) as HashName[]).map((name) => field(HASH_LABELS[name] ?? name, log.hashes[name] ?? null, '  ')),
    '',
    log.unreadable.length === 0
      ? 'Unreadable ranges: none'
      : `Unreadable ranges (${log.unreadableBytes} bytes, stored and hashed as zeros):`,
    ...log.unreadable.map(([offset, length]) => `  bytes ${offset}-${offset + length - 1} (${length} bytes)`),
    '',
    'Image',
    field('Path', log.image.path, '  '),
    field('Parts', log.image.parts, '  '),
    field('Size', `${log.image.bytes} bytes`, '  '),
    field('Chunks', `${log.image.chunks} of ${log.image.chunkSize} bytes (${log.image.zeroChunks} all zero, not stored)`, '  '),
    field('Encrypted', log.image.encrypted ? 'yes (AES-256-GCM, passphrase not recorded)' : 'no', '  '),
  ];
  if (log.verification) {
    const v = log.verification;
    lines.push('', 'Verification after the backup',
      field('Finished', v.finished, '  '),
      field('Result', v.problems === 0 && v.complete && v.hashesMatch
        ? 'every record decoded; the hashes recomputed from the image match'
        : `${v.problems} problem(s); hashes ${v.hashesMatch ? 'match' : 'do NOT match'}`, '  '));
  }
  if (log.remarks.length > 0) {
    lines.push('', 'Remarks');
    for (const r of log.remarks) lines.push(`  - ${wrap(r, '    ').join('\n    ')}`);
  }
  return `${lines.join('\n')}\n`;
}
