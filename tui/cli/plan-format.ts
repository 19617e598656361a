/**
 * The backup plan as the user sees it before anything is copied: per partition what is read
 * and how much, what is left out, and why a partition falls back to every sector.
 */
import type { BackupPlan, HashName } from '../../src/index.ts';
import { formatBytes, table } from './format.ts';
import { TEXT } from '../text.ts';

/** The plan as plain data (no extent lists): the `plan` line of `backup --json`. */
export function planSummary(plan: BackupPlan) {
  return {
    mode: plan.mode,
    source: { ...plan.source, scheme: plan.layout.scheme, ...(plan.layout.diskId ? { diskId: plan.layout.diskId } : {}) },
    partitions: plan.partitions.map((p) => ({
      index: p.partition.index,
      offset: p.partition.offset,
      size: p.partition.size,
      filesystem: p.filesystem,
      ...(p.label ? { label: p.label } : {}),
      mode: p.mode,
      storeBytes: p.extents.bytes,
      excludedFiles: p.excludedFiles,
      diffArea: { bytes: p.diffArea.bytes, excluded: p.diffArea.excluded },
      leftOutBytes: p.leftOutBytes,
      ...(p.fallbackReason ? { fallbackReason: p.fallbackReason } : {}),
    })),
    tableBytes: plan.mode === 'forensic' ? 0 : plan.tableExtents.bytes,
    storeBytes: plan.storedExtents.bytes,
    warnings: plan.warnings,
  };
}

export interface PlanSettings {
  destination: string;
  level: number;
  chunkSize: number;
  splitSize?: number | undefined;
  encrypted: string | undefined;
  hashes: HashName[];
}

export function formatPlan(plan: BackupPlan, settings: PlanSettings): string {
  const t = TEXT.plan;
  const src = plan.source;
  const scheme = plan.layout.scheme === 'none' ? TEXT.inspect.noTable : plan.layout.scheme.toUpperCase();
  const lines = [t.heading(plan.mode, src.name, `${formatBytes(src.size)}, ${src.sectorSize}-byte sectors, ${scheme}`)];
  if (plan.mode === 'forensic') {
    lines.push(`  ${t.forensicWhole(formatBytes(src.size), src.size)}`);
    lines.push(`  ${t.hashes(['sha256', ...settings.hashes].join(', '))}`);
  } else {
    if (plan.partitions.length > 0) {
      const rows: string[][] = [[...t.columns]];
      for (const p of plan.partitions) {
        rows.push([String(p.partition.index), p.filesystem, p.label ?? '', p.mode, formatBytes(p.extents.bytes), formatBytes(p.partition.size)]);
      }
      lines.push('', ...table(rows).split('\n').map((l) => `  ${l}`));
    }
    for (const p of plan.partitions) {
      const notes = [
        ...p.excludedFiles.map((f) => t.excludedFile(f.path.replace(/^[\\/]/, ''), formatBytes(f.size))),
        ...(p.diffArea.bytes > 0 ? [t.diffArea(formatBytes(p.diffArea.bytes), p.diffArea.excluded)] : []),
        ...(p.fallbackReason && plan.mode !== 'intelligent' ? [p.fallbackReason] : []),
      ];
      if (notes.length > 0) lines.push('', `  ${TEXT.inspect.partition} ${p.partition.index}:`, ...notes.map((n) => `    ${n}`));
    }
    lines.push('', `  ${t.tables(formatBytes(plan.tableExtents.bytes))}`);
  }
  lines.push(`  ${t.total(formatBytes(plan.storedExtents.bytes), plan.storedExtents.bytes)}`);
  for (const w of plan.warnings) lines.push(`  ${TEXT.warning(w)}`);
  lines.push('', `  ${t.settings(settings.destination, settings.level, formatBytes(settings.chunkSize),
    settings.splitSize === undefined ? undefined : formatBytes(settings.splitSize), settings.encrypted)}`);
  return lines.join('\n');
}
