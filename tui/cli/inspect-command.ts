/** `lifeboat inspect <disk-or-image> [--json]`: prints what inspectDisk reports. */
import { inspectDisk, openDiskImage, type DiskReport } from '../../src/index.ts';
import { parseArgs, positionals, type CommandSpec } from './args.ts';
import { EXIT, type CliContext } from './context.ts';
import { formatBytes, table, toJson } from './format.ts';
import { TEXT } from '../text.ts';

export const INSPECT_SPEC: CommandSpec = {
  command: 'inspect',
  options: [{ name: 'json', value: false }, { name: 'help', value: false }],
};

export function formatReport(report: DiskReport): string {
  const { layout, device } = report;
  const scheme = layout.scheme === 'none' ? TEXT.inspect.noTable : layout.scheme.toUpperCase();
  const lines = [
    `${device.name}`,
    `  ${formatBytes(device.size)} (${device.size} bytes), ${device.sectorSize}-byte sectors, ${scheme}` +
      (layout.diskId ? `, ${layout.scheme === 'mbr' ? 'signature' : 'disk GUID'} ${layout.diskId}` : ''),
  ];
  for (const w of layout.warnings) lines.push(`  ${TEXT.inspect.warning}: ${w}`);
  if (report.volumes.length > 0) {
    const rows = [['#', 'start', 'size', 'type', 'filesystem', 'label', 'used', 'flags']];
    for (const v of report.volumes) {
      const p = v.partition;
      const flags = [p.active ? 'active' : '', p.logical ? 'logical' : '', p.name ? `"${p.name}"` : ''].filter(Boolean).join(' ');
      rows.push([String(p.index), formatBytes(p.offset), formatBytes(p.size), p.typeName, v.filesystem,
        v.label ?? '', v.usedBytes === undefined ? '' : formatBytes(v.usedBytes), flags]);
    }
    lines.push('', ...table(rows).split('\n').map((l) => `  ${l}`));
    for (const v of report.volumes) {
      const notes = [
        ...(v.excludedFiles ?? []).map((f) => `${f.path.slice(1)} ${formatBytes(f.size)} (${TEXT.inspect.excluded})`),
        ...(v.diffArea && v.diffArea.files.length > 0
          ? [`${TEXT.inspect.diffArea}: ${formatBytes(v.diffArea.bytes)} in ${v.diffArea.files.length} file(s)`] : []),
        ...(v.error ? [`${TEXT.inspect.unreadable}: ${v.error.message}`] : []),
      ];
      if (notes.length > 0) lines.push('', `  ${TEXT.inspect.partition} ${v.partition.index}:`, ...notes.map((n) => `    ${n}`));
    }
  }
  return lines.join('\n');
}

export async function inspectCommand(path: string, json: boolean, out: (text: string) => void): Promise<void> {
  const device = await openDiskImage(path);
  try {
    const report = await inspectDisk(device);
    out(json ? toJson(report) : formatReport(report));
  } finally {
    await device.close();
  }
}

/** The command-line form: `lifeboat inspect <disk-or-image> [--json]`. */
export async function inspectCli(argv: readonly string[], ctx: CliContext): Promise<number> {
  const parsed = parseArgs(argv, INSPECT_SPEC);
  if (parsed.flags.has('help')) {
    ctx.out(`${TEXT.help.inspect}\n`);
    return EXIT.ok;
  }
  const [target] = positionals(parsed, 'inspect', ['the disk or image to inspect']);
  await inspectCommand(target!, parsed.flags.has('json'), (text) => ctx.out(`${text}\n`));
  return EXIT.ok;
}
