/**
 * `lifeboat fix-boot <disk>`: boot repair on its own. Shows what it found and what it will
 * change, then asks for the disk's name (or takes `--yes DISK`); `--dry-run` stops after the plan.
 */
import { existsSync } from 'node:fs';
import { LifeboatError, openFileDevice, planFixBoot, runFixBoot, UsageError, type FixBootPlan, type FixBootResult } from '../../src/index.ts';
import { parseArgs, positionals, type CommandSpec } from './args.ts';
import { EXIT, type CliContext } from './context.ts';
import { toJson } from './format.ts';
import { TEXT } from '../text.ts';

export const FIX_BOOT_SPEC: CommandSpec = {
  command: 'fix-boot',
  options: [
    { name: 'dry-run', value: false },
    { name: 'yes', value: true },
    { name: 'json', value: false },
    { name: 'help', value: false },
  ],
};

export function formatFixBootPlan(plan: FixBootPlan): string {
  const t = TEXT.fixBoot;
  const lines = [t.heading(plan.disk, plan.scheme)];
  for (const f of plan.found) lines.push(`  ${t.found(f.kind, f.partition, f.path, f.logs.length)}`);
  for (const h of plan.repair?.hives ?? []) {
    for (const e of h.edits) lines.push(`  ${t.edit(h.file.path, e.description)}`);
    for (const u of h.untouched.filter((x) => x.attention)) lines.push(`  ${TEXT.warning(t.leftAlone(h.file.path, u.description))}`);
  }
  if (plan.writeMbrCode) lines.push(`  ${t.mbrCode}`);
  if (plan.activate) lines.push(`  ${t.activate(plan.activate)}`);
  if (plan.fallbackLoader) lines.push(`  ${t.fallback(plan.fallbackLoader)}`);
  for (const n of plan.notes) lines.push(`  ${n}`);
  const changes = (plan.repair?.hives.reduce((s, h) => s + h.edits.length, 0) ?? 0) + (plan.writeMbrCode ? 1 : 0) + (plan.activate ? 1 : 0) + (plan.fallbackLoader ? 1 : 0);
  lines.push(`  ${changes > 0 ? t.willChange(changes) : t.nothing}`);
  return lines.join('\n');
}

function formatResult(result: FixBootResult): string {
  const t = TEXT.fixBoot;
  const lines: string[] = [t.done];
  for (const r of result.repair?.rewritten ?? []) lines.push(`  ${TEXT.restore.bootRepaired(r.partition, r.path, r.edits)}`);
  if (result.wroteMbrCode) lines.push(`  ${t.mbrCode}`);
  if (result.activated) lines.push(`  ${t.activate(result.activated)}`);
  if (result.fallbackLoader) lines.push(`  ${t.fallback(result.fallbackLoader)}`);
  return lines.join('\n');
}

export async function fixBootCommand(argv: readonly string[], ctx: CliContext): Promise<number> {
  const parsed = parseArgs(argv, FIX_BOOT_SPEC);
  if (parsed.flags.has('help')) {
    ctx.out(`${TEXT.help.fixBoot}\n`);
    return EXIT.ok;
  }
  const [diskPath] = positionals(parsed, 'fix-boot', ['the disk or disk image file to repair']);
  if (!existsSync(diskPath!)) throw new UsageError(TEXT.fixBoot.noDisk(diskPath!));
  const json = parsed.flags.has('json');
  const reading = await openFileDevice(diskPath!);
  let plan: FixBootPlan;
  try {
    plan = await planFixBoot(reading);
  } finally {
    await reading.close();
  }
  if (json) ctx.out(`${toJson({ type: 'plan', ...plan })}\n`);
  else ctx.out(`${formatFixBootPlan(plan)}\n`);
  const nothing = !plan.repair?.hives.some((h) => h.edits.length > 0) && !plan.writeMbrCode && !plan.activate && !plan.fallbackLoader;
  if (parsed.flags.has('dry-run') || nothing) return EXIT.ok;
  const confirmation = parsed.values.get('yes') ?? (ctx.stdinIsTty && !json ? await ctx.ask(TEXT.restore.confirmPrompt(diskPath!)) : undefined);
  if (confirmation === undefined) throw new UsageError(TEXT.fixBoot.confirmNeeded(diskPath!));
  if (confirmation !== diskPath) throw new LifeboatError('FIX_BOOT_REFUSED', TEXT.restore.notConfirmed(confirmation, diskPath!));
  const disk = await openFileDevice(diskPath!, { writable: true });
  try {
    const result = await runFixBoot(disk, plan);
    if (json) ctx.out(`${toJson({ type: 'result', ok: true, ...result })}\n`);
    else ctx.out(`${formatResult(result)}\n`);
    return EXIT.ok;
  } finally {
    await disk.close();
  }
}
