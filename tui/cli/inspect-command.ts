/** `lifeboat inspect <disk-or-image> [--json]`: prints what inspectDisk reports. */
import { inspectDisk, openDiskImage, type DiskReport } from '../../src/index.ts';
import { formatBytes, table, toJson } from './format.ts';
import { TEXT } from '../text.ts';

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
    const rows = [['#', 'start', 'size', 'type', 'filesystem', 'flags']];
    for (const { partition: p, filesystem } of report.volumes) {
      const flags = [p.active ? 'active' : '', p.logical ? 'logical' : '', p.name ? `"${p.name}"` : ''].filter(Boolean).join(' ');
      rows.push([String(p.index), formatBytes(p.offset), formatBytes(p.size), p.typeName, filesystem, flags]);
    }
    lines.push('', ...table(rows).split('\n').map((l) => `  ${l}`));
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
