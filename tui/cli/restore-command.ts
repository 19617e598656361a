/**
 * `lifeboat restore <image> <target> [options]`: shows the restore plan, asks for the target's
 * name as confirmation (or takes `--yes TARGET`), then writes. `--dry-run` stops after the plan.
 */
import { existsSync } from 'node:fs';
import {
  ImageReader, LifeboatError, openFileDevice, planRestore, runRestore, UsageError, type RestorePlan, type RestoreResult,
} from '../../src/index.ts';
import { parseArgs, positionals, type CommandSpec } from './args.ts';
import { EXIT, type CliContext } from './context.ts';
import { formatBytes, table } from './format.ts';
import { passphraseSources, withImagePassphrase } from './passphrase.ts';
import { jsonReporter, textReporter } from './progress.ts';
import { parseInteger } from './values.ts';
import { TEXT } from '../text.ts';

export const RESTORE_SPEC: CommandSpec = {
  command: 'restore',
  options: [
    { name: 'partition', value: true },
    { name: 'into', value: true },
    { name: 'zero-free', value: false },
    { name: 'keep-layout', value: false },
    { name: 'new-disk-id', value: false },
    { name: 'realign', value: false },
    { name: 'no-boot-repair', value: false },
    { name: 'dry-run', value: false },
    { name: 'yes', value: true },
    { name: 'sector-size', value: true },
    { name: 'threads', value: true },
    { name: 'passphrase-file', value: true },
    { name: 'json', value: false },
    { name: 'help', value: false },
  ],
  refused: { passphrase: TEXT.passphrase.refused },
};

export function formatRestorePlan(plan: RestorePlan): string {
  const t = TEXT.restore;
  const rows: string[][] = [[...t.columns]];
  for (const p of plan.partitions) {
    rows.push([String(p.index), p.filesystem, p.label ?? '', `${formatBytes(p.from.offset)} → ${formatBytes(p.to.offset)}`,
      formatBytes(p.to.size), formatBytes(p.bytes), [p.to.offset === p.from.offset ? '' : t.moved, p.resize ? t.resized(p.resize, formatBytes(p.from.size)) : ''].filter(Boolean).join('; ')]);
  }
  const lines = [
    t.heading(plan.image.path, plan.target.name),
    `  ${t.what(plan.kind, plan.image.mode, formatBytes(plan.dataExtents.bytes), formatBytes(plan.needed), formatBytes(plan.available))}`,
    '', ...table(rows).split('\n').map((l) => `  ${l}`), '',
  ];
  if (plan.zeroFree) lines.push(`  ${t.zeroFree}`);
  if (plan.newDiskId) lines.push(`  ${t.newDiskId}`);
  for (const p of plan.partitions) if (p.excludedFiles.length > 0) lines.push(`  ${t.excluded(p.index, p.excludedFiles.join(', '))}`);
  for (const w of plan.warnings) lines.push(`  ${TEXT.warning(w)}`);
  lines.push(`  ${plan.kind === 'disk' ? t.erasesDisk(plan.target.name) : t.erasesPartition(plan.target.name, plan.partitions[0]!.to.index)}`);
  return lines.join('\n');
}

function formatResult(result: RestoreResult): string {
  const t = TEXT.restore;
  const lines = [t.done(formatBytes(result.bytesWritten), result.seconds.toFixed(1))];
  if (result.fixedPlacement.length > 0) lines.push(`  ${t.fixed(result.fixedPlacement.join(', '))}`);
  if (result.grown.length > 0) lines.push(`  ${t.grown(result.grown.join(', '))}`);
  if (result.shrunk.length > 0) lines.push(`  ${t.shrunk(result.shrunk.join(', '))}`);
  if (result.converted.length > 0) lines.push(`  ${t.converted(result.converted.join(', '))}`);
  if (result.zeroedExcluded.length > 0) lines.push(`  ${t.zeroed(result.zeroedExcluded.join(', '))}`);
  if (result.identity) lines.push(`  ${t.identity(result.identity.oldDiskId, result.identity.newDiskId)}`);
  for (const r of result.bootRepair?.rewritten ?? []) lines.push(`  ${t.bootRepaired(r.partition, r.path, r.edits)}`);
  if (result.bootRepair?.mbrCodeWritten) lines.push(`  ${TEXT.fixBoot.mbrCode}`);
  if (result.bootRepair?.failed) lines.push(`  ${TEXT.warning(result.bootRepair.failed)}`);
  return lines.join('\n');
}

export async function restoreCommand(argv: readonly string[], ctx: CliContext): Promise<number> {
  const parsed = parseArgs(argv, RESTORE_SPEC);
  if (parsed.flags.has('help')) {
    ctx.out(`${TEXT.help.restore}\n`);
    return EXIT.ok;
  }
  const [imagePath, targetPath] = positionals(parsed, 'restore', ['the image to restore', 'the target disk or disk image file']);
  const json = parsed.flags.has('json');
  const int = (name: string, min: number, max: number) => (parsed.values.has(name) ? parseInteger(name, parsed.values.get(name)!, min, max) : undefined);
  const partition = int('partition', 1, 255);
  const into = int('into', 1, 255);
  if (into !== undefined && partition === undefined) throw new UsageError(TEXT.restore.intoNeedsPartition);
  if (!existsSync(targetPath!)) throw new UsageError(TEXT.restore.noTarget(targetPath!));
  const reader = await withImagePassphrase(imagePath!, passphraseSources(ctx, parsed.values.get('passphrase-file')),
    (passphrase) => ImageReader.open(imagePath!, passphrase !== undefined ? { passphrase } : {}));
  try {
    // A file has no sector size of its own: it takes the source disk's unless told otherwise.
    const sectorSize = int('sector-size', 512, 4096) ?? reader.metadata.source.sectorSize;
    const target = await openFileDevice(targetPath!, { writable: true, sectorSize });
    try {
      const plan = await planRestore(reader, target, {
        ...(partition !== undefined ? { partition } : {}), ...(into !== undefined ? { targetPartition: into } : {}),
        zeroFree: parsed.flags.has('zero-free'), newDiskId: parsed.flags.has('new-disk-id'), resize: !parsed.flags.has('keep-layout'),
        realign: parsed.flags.has('realign'),
      });
      const jsonOut = jsonReporter(ctx.out);
      const reporter = json ? jsonOut : textReporter({ write: ctx.err, tty: ctx.stderrIsTty });
      if (json) jsonOut.object({ type: 'plan', ...plan, dataExtents: plan.dataExtents.toJSON(), tableExtents: plan.tableExtents.toJSON() });
      else ctx.out(`${formatRestorePlan(plan)}\n`);
      if (parsed.flags.has('dry-run')) return EXIT.ok;
      const confirmation = parsed.values.get('yes') ?? (ctx.stdinIsTty && !json ? await ctx.ask(TEXT.restore.confirmPrompt(target.name)) : undefined);
      if (confirmation === undefined) throw new UsageError(TEXT.restore.confirmNeeded(target.name));
      if (confirmation !== target.name) throw new LifeboatError('RESTORE_REFUSED', TEXT.restore.notConfirmed(confirmation, target.name));
      try {
        const result = await runRestore(reader, target, plan, {
          confirmTarget: confirmation, signal: ctx.signal, onEvent: (e) => reporter.event(e), repairBoot: !parsed.flags.has('no-boot-repair'),
          ...(int('threads', 1, 64) ? { threads: int('threads', 1, 64)! } : {}),
        });
        reporter.done();
        if (json) jsonOut.object({ type: 'result', ok: true, ...result });
        else ctx.out(`${formatResult(result)}\n`);
        return EXIT.ok;
      } finally {
        reporter.done();
      }
    } finally {
      await target.close();
    }
  } finally {
    await reader.close();
  }
}
