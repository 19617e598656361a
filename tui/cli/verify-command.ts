/**
 * `lifeboat verify <image> [--against-source SOURCE] [--json]`: decodes every record, checks
 * the index, recomputes a forensic image's hashes and optionally compares with the source.
 * Exit status 0 = fine, 3 = problems found, 1 = the image could not be verified at all.
 */
import { openDiskImage, verifyImage, type ReadableDevice, type VerifyReport } from '../../src/index.ts';
import { parseArgs, positionals, type CommandSpec } from './args.ts';
import { EXIT, type CliContext } from './context.ts';
import { formatBytes } from './format.ts';
import { passphraseSources, withImagePassphrase, type PassphraseSources } from './passphrase.ts';
import { jsonReporter, textReporter, type Reporter } from './progress.ts';
import { TEXT } from '../text.ts';

export const VERIFY_SPEC: CommandSpec = {
  command: 'verify',
  options: [
    { name: 'against-source', value: true },
    { name: 'passphrase-file', value: true },
    { name: 'json', value: false },
    { name: 'help', value: false },
  ],
  refused: { passphrase: TEXT.passphrase.refused },
};

/** Fine = complete, every record decodes, hashes (if any) match and nothing differs from the source. */
export function verifyPassed(report: VerifyReport): boolean {
  return report.complete && report.problems.length === 0 && (report.hashes?.match ?? true)
    && (report.againstSource?.differences.length ?? 0) === 0;
}

export function formatVerifyReport(report: VerifyReport): string {
  const t = TEXT.verify;
  const lines = [
    t.heading(report.path),
    `  ${report.complete ? t.complete : t.incomplete}`,
    `  ${t.counts(report.mode, report.records, report.chunks, report.zeroChunks, formatBytes(report.goodBytes), report.goodBytes)}`,
  ];
  if (report.hashes) {
    lines.push(`  ${t.hashesHeading}`);
    for (const [name, expected] of Object.entries(report.hashes.expected)) {
      const computed = report.hashes.computed[name];
      lines.push(`    ${name.padEnd(6)}  ${computed ?? t.notComputed}  ${computed === expected ? t.hashMatches : t.hashDiffers(expected)}`);
    }
  }
  if (report.againstSource) {
    const { comparedBytes, differences } = report.againstSource;
    lines.push(`  ${t.againstSource(formatBytes(comparedBytes), comparedBytes, differences.length)}`);
  }
  if (report.problems.length > 0) {
    lines.push(`  ${t.problemsHeading(report.problems.length)}`);
    for (const p of report.problems) lines.push(`    ${p.where}: ${p.message}`);
  }
  lines.push(`  ${verifyPassed(report) ? t.passed(report.seconds.toFixed(1)) : t.failed(report.problems.length)}`);
  return lines.join('\n');
}

export interface VerifyRun {
  image: string;
  sources: PassphraseSources;
  /** Known already (right after an encrypted backup): used as is, nothing is asked. */
  passphrase?: string;
  againstSource?: string | undefined;
  reporter: Reporter;
  signal: AbortSignal;
}

/** Verify with the passphrase rules and the source device's lifetime handled; shared with `backup --verify`. */
export async function runVerify(run: VerifyRun): Promise<VerifyReport> {
  let source: ReadableDevice | undefined;
  if (run.againstSource) source = await openDiskImage(run.againstSource);
  try {
    const verify = (passphrase: string | undefined) => verifyImage(run.image, {
      ...(passphrase !== undefined ? { passphrase } : {}), ...(source ? { source } : {}),
      signal: run.signal, onEvent: (e) => run.reporter.event(e),
    });
    return await (run.passphrase !== undefined ? verify(run.passphrase) : withImagePassphrase(run.image, run.sources, verify));
  } finally {
    run.reporter.done();
    await source?.close();
  }
}

export async function verifyCommand(argv: readonly string[], ctx: CliContext): Promise<number> {
  const parsed = parseArgs(argv, VERIFY_SPEC);
  if (parsed.flags.has('help')) {
    ctx.out(`${TEXT.help.verify}\n`);
    return EXIT.ok;
  }
  const [image] = positionals(parsed, 'verify', ['the image to verify']);
  const json = parsed.flags.has('json');
  const reporter = json ? jsonReporter(ctx.out) : textReporter({ write: ctx.err, tty: ctx.stderrIsTty });
  const report = await runVerify({
    image: image!, againstSource: parsed.values.get('against-source'), reporter, signal: ctx.signal,
    sources: passphraseSources(ctx, parsed.values.get('passphrase-file')),
  });
  const passed = verifyPassed(report);
  if (json) ctx.out(`${JSON.stringify({ type: 'result', ok: passed, ...report })}\n`);
  else ctx.out(`${formatVerifyReport(report)}\n`);
  return passed ? EXIT.ok : EXIT.problems;
}
