/**
 * Child process of the backup bench: one Lifeboat operation on the bench volume, figures as JSON
 * on stdout (one line), so the parent can time it under GNU time.
 *
 *   backup-probe.ts intelligent VOLUME OUT   planBackup + runBackup, level 3, the volume presented
 *                                            as partition 1 of an MBR disk (volume-disk.ts)
 *   backup-probe.ts forensic VOLUME OUT      the volume file itself as the device, SHA-256
 *   backup-probe.ts verify IMAGE             verifyImage
 *   backup-probe.ts restore IMAGE TARGET     planRestore + runRestore into an existing target file
 *
 * Options: --threads N (default: the engine's, one per CPU), --chunk-size BYTES (default: the
 * engine's, 1 MiB), for experiments; the bench runs with the defaults.
 */
import { ImageReader, openFileDevice, planBackup, planRestore, runBackup, runRestore, verifyImage, type ReadableDevice } from '../../src/index.ts';
import { openVolumeAsDisk } from './volume-disk.ts';

const args = process.argv.slice(2);
const threadsAt = args.indexOf('--threads');
const threads = threadsAt >= 0 ? Number(args.splice(threadsAt, 2)[1]) : undefined;
const chunkAt = args.indexOf('--chunk-size');
const chunkSize = chunkAt >= 0 ? Number(args.splice(chunkAt, 2)[1]) : undefined;
const [what, path, out] = args;

const started = performance.now();
const ms = () => Math.round(performance.now() - started);

if (what === 'verify' && path) {
  const report = await verifyImage(path);
  if (report.problems.length > 0 || !report.complete) throw new Error(`verify found problems: ${JSON.stringify(report.problems.slice(0, 5))}`);
  process.stdout.write(`${JSON.stringify({ records: report.records, chunks: report.chunks, goodBytes: report.goodBytes, seconds: report.seconds, ms: ms() })}\n`);
} else if (what === 'restore' && path && out) {
  const reader = await ImageReader.open(path);
  const target = await openFileDevice(out, { writable: true, sectorSize: reader.metadata.source.sectorSize });
  const plan = await planRestore(reader, target);
  const result = await runRestore(reader, target, plan, { confirmTarget: target.name, ...(threads ? { threads } : {}) });
  await target.close();
  await reader.close();
  process.stdout.write(`${JSON.stringify({ bytesWritten: result.bytesWritten, seconds: result.seconds, ms: ms() })}\n`);
} else if ((what === 'intelligent' || what === 'forensic') && path && out) {
  const device: ReadableDevice = what === 'intelligent' ? await openVolumeAsDisk(path) : await openFileDevice(path);
  const plan = await planBackup(device, { mode: what });
  const planMs = ms();
  const phases: Record<string, number> = {};
  const result = await runBackup(device, plan, {
    destination: out, level: 3, ...(threads ? { threads } : {}), ...(chunkSize ? { chunkSize } : {}), ...(what === 'forensic' ? { hashes: [] } : {}),
    onEvent: (e) => {
      if (e.type === 'phase') phases[e.phase] = ms();
    },
  });
  await device.close();
  const partitions = plan.partitions.map((p) => ({
    mode: p.mode, filesystem: p.filesystem, usedBytes: p.usedBytes, storedBytes: p.extents.bytes, leftOutBytes: p.leftOutBytes,
    excluded: p.excludedFiles.map((f) => f.path), diffAreaBytes: p.diffArea.bytes, fallbackReason: p.fallbackReason,
  }));
  process.stdout.write(`${JSON.stringify({
    imageBytes: result.imageBytes, storedBytes: result.storedBytes, chunks: result.chunks, zeroChunks: result.zeroChunks,
    seconds: result.seconds, hashes: result.hashes, warnings: plan.warnings, partitions,
    ms: { plan: planMs, copy: (phases.finish ?? ms()) - (phases.copy ?? planMs), finish: ms() - (phases.finish ?? ms()), total: ms() },
  })}\n`);
} else {
  process.stderr.write('usage: backup-probe.ts intelligent|forensic VOLUME OUT [--threads N] | verify IMAGE | restore IMAGE TARGET\n');
  process.exit(2);
}
