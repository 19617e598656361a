/**
 * `lifeboat info <image> [--json]`: what an image says about itself, from its metadata, without
 * decoding the data. Works on incomplete images too (the reader scans them) and says why they
 * are incomplete.
 */
import { ImageReader } from '../../src/index.ts';
import { parseArgs, positionals, type CommandSpec } from './args.ts';
import { EXIT, type CliContext } from './context.ts';
import { formatBytes, table, toJson } from './format.ts';
import { passphraseSources, withImagePassphrase } from './passphrase.ts';
import { TEXT } from '../text.ts';

export const INFO_SPEC: CommandSpec = {
  command: 'info',
  options: [
    { name: 'passphrase-file', value: true },
    { name: 'json', value: false },
    { name: 'help', value: false },
  ],
  refused: { passphrase: TEXT.passphrase.refused },
};

/** A partition as the writer records it in the metadata (docs/formats/image.md). */
interface RecordedPartition {
  index: number;
  offset: number;
  size: number;
  typeName?: string;
  filesystem: string;
  label?: string;
  mode: string;
  fallbackReason?: string;
  storedBytes: number;
  excludedFiles?: Array<{ path: string; size: number; allocated: number }>;
  diffArea?: { bytes: number; excluded: boolean };
}

export type ImageSummary = ReturnType<typeof imageSummary>;

/** The facts `info` shows, as plain data: the JSON output and the source of the text output. */
export function imageSummary(reader: ImageReader) {
  const m = reader.metadata;
  const found = [...reader.chunks.values()];
  const partitions = (Array.isArray(m.partitions) ? m.partitions : []) as RecordedPartition[];
  return {
    path: reader.path,
    complete: reader.complete,
    /** Why the image is incomplete, in the order found. */
    problems: reader.problems,
    createdAt: typeof m.createdAt === 'string' ? m.createdAt : null,
    tool: typeof m.tool === 'string' ? m.tool : null,
    mode: m.mode,
    source: m.source,
    image: {
      parts: reader.parts.map((p) => ({ path: p.path, bytes: p.size })),
      bytes: reader.parts.reduce((s, p) => s + p.size, 0),
      chunkSize: reader.chunkSize,
      encrypted: (reader.header.flags & 1) === 1,
    },
    // A complete image's metadata has the totals; an incomplete one only what its scan found.
    chunks: reader.complete && typeof m.chunks === 'number' ? m.chunks : found.length,
    zeroChunks: reader.complete && typeof m.zeroChunks === 'number' ? m.zeroChunks : null,
    storedBytes: typeof m.storedBytes === 'number' ? m.storedBytes : null,
    /** Source bytes covered by the chunks the image holds (for an incomplete image: what survived). */
    usableBytes: found.reduce((s, c) => s + c.sourceLength, 0),
    partitions: partitions.map((p) => ({
      index: p.index, offset: p.offset, size: p.size, typeName: p.typeName ?? null, filesystem: p.filesystem,
      label: p.label ?? null, mode: p.mode, storedBytes: p.storedBytes, fallbackReason: p.fallbackReason ?? null,
      excludedFiles: (p.excludedFiles ?? []).map((f) => ({ path: f.path, size: f.size, allocated: f.allocated })),
      diffArea: { bytes: p.diffArea?.bytes ?? 0, excluded: p.diffArea?.excluded ?? false },
    })),
    hashes: (m.hashes ?? null) as Record<string, string> | null,
    acquisition: (m.acquisition ?? null) as Record<string, string> | null,
    unreadable: (Array.isArray(m.unreadable) ? m.unreadable : []) as Array<[number, number]>,
    warnings: (Array.isArray(m.warnings) ? m.warnings : []) as string[],
  };
}

export function formatImageSummary(s: ImageSummary): string {
  const t = TEXT.info;
  const src = s.source;
  const lines = [
    `${s.path}: ${s.complete ? t.complete : t.incomplete}`,
    `  ${t.mode(s.mode)}`,
    `  ${t.created(s.createdAt ?? '?', s.tool ?? '?')}`,
    `  ${t.source(src.name, formatBytes(src.size), src.size, src.sectorSize, src.scheme ?? 'none', src.diskId)}`,
  ];
  if (src.model || src.serial) lines.push(`  ${t.identity(src.model ?? '?', src.serial ?? '?')}`);
  lines.push(`  ${t.image(s.image.parts.length, formatBytes(s.image.bytes), s.image.bytes, formatBytes(s.image.chunkSize), s.image.encrypted)}`);
  lines.push(`  ${s.complete
    ? t.chunks(s.chunks, s.zeroChunks ?? 0, formatBytes(s.storedBytes ?? s.usableBytes))
    : t.chunksFound(s.chunks, formatBytes(s.usableBytes))}`);
  if (s.partitions.length > 0) {
    const rows: string[][] = [[...t.columns]];
    for (const p of s.partitions) {
      rows.push([String(p.index), formatBytes(p.offset), formatBytes(p.size), p.filesystem, p.label ?? '', p.mode, formatBytes(p.storedBytes)]);
    }
    lines.push('', ...table(rows).split('\n').map((l) => `  ${l}`));
    for (const p of s.partitions) {
      const notes = [
        ...p.excludedFiles.map((f) => TEXT.plan.excludedFile(f.path.replace(/^[\\/]/, ''), formatBytes(f.size))),
        ...(p.diffArea.bytes > 0 ? [TEXT.plan.diffArea(formatBytes(p.diffArea.bytes), p.diffArea.excluded)] : []),
        ...(p.fallbackReason ? [p.fallbackReason] : []),
      ];
      if (notes.length > 0) lines.push('', `  ${TEXT.inspect.partition} ${p.index}:`, ...notes.map((n) => `    ${n}`));
    }
    lines.push('');
  }
  if (s.hashes) {
    lines.push(`  ${t.hashes}`);
    for (const [name, value] of Object.entries(s.hashes)) lines.push(`    ${name.padEnd(6)}  ${value}`);
  }
  if (s.acquisition) {
    const a = s.acquisition;
    lines.push(`  ${t.acquisitionHeading}`);
    for (const [key, label] of Object.entries(t.acquisition)) if (a[key]) lines.push(`    ${`${label}:`.padEnd(10)} ${a[key]}`);
  }
  if (s.mode === 'forensic') lines.push(`  ${t.unreadable(s.unreadable.length, s.unreadable.reduce((n, [, l]) => n + l, 0))}`);
  for (const w of s.warnings) lines.push(`  ${TEXT.warning(w)}`);
  if (!s.complete) {
    lines.push(`  ${t.whyIncomplete}`);
    for (const p of s.problems) lines.push(`    ${p}`);
  }
  return lines.join('\n');
}

export async function infoCommand(argv: readonly string[], ctx: CliContext): Promise<number> {
  const parsed = parseArgs(argv, INFO_SPEC);
  if (parsed.flags.has('help')) {
    ctx.out(`${TEXT.help.info}\n`);
    return EXIT.ok;
  }
  const [image] = positionals(parsed, 'info', ['the image']);
  const sources = passphraseSources(ctx, parsed.values.get('passphrase-file'));
  const reader = await withImagePassphrase(image!, sources, (passphrase) => ImageReader.open(image!, passphrase === undefined ? {} : { passphrase }));
  try {
    const summary = imageSummary(reader);
    ctx.out(`${parsed.flags.has('json') ? toJson(summary) : formatImageSummary(summary)}\n`);
  } finally {
    await reader.close();
  }
  return EXIT.ok;
}
