/** The acquisition log builder on a hand-made plan and result: every field, the SSD remark, the text report. */
import test from 'ava';
import { ExtentList } from '../fs/extents.ts';
import { buildAcquisitionLog, formatAcquisitionLog, SSD_REMARK } from './acquisition-log.ts';
import type { BackupPlan } from './plan.ts';
import type { BackupResult } from './run-backup.ts';

const SIZE = 64 << 20;
const all = ExtentList.of([{ start: 0, length: SIZE }]);
const plan: BackupPlan = {
  mode: 'forensic',
  source: { name: '/dev/sdz', size: SIZE, sectorSize: 512 },
  layout: { scheme: 'gpt', diskSize: SIZE, sectorSize: 512, partitions: [], warnings: [] },
  partitions: [],
  tableExtents: all,
  storedExtents: all,
  warnings: [],
};

function result(extra: Record<string, unknown> = {}): BackupResult {
  return {
    path: '/evidence/disk.lbimg', parts: 3, imageBytes: 12_345_678, storedBytes: SIZE, chunks: 64, zeroChunks: 40, seconds: 2.5,
    hashes: { sha256: 'a'.repeat(64), md5: 'b'.repeat(32) },
    metadata: {
      tool: 'lifeboat 0.1.0', chunkSize: 1 << 20, unreadable: [[4096, 512], [1 << 20, 4096]],
      source: { name: '/dev/sdz', size: SIZE, sectorSize: 512, model: 'ACME SSD 1TB', serial: 'S123' },
      acquisition: { examiner: 'Jane Doe', caseNumber: '2024-017', evidenceId: 'E-3', notes: 'Seized at the office.', started: '2024-05-01T10:00:00.000Z', finished: '2024-05-01T10:00:42.500Z' },
      ...extra,
    },
  };
}

test('the log repeats what the image records: people, device, times, hashes, unreadable ranges, parts', (t) => {
  const log = buildAcquisitionLog(plan, result(), { passphrase: 'x', identity: { solidState: false } });
  t.is(log.format, 'lifeboat-acquisition-log');
  t.is(log.tool, 'lifeboat 0.1.0');
  t.deepEqual([log.examiner, log.caseNumber, log.evidenceId, log.notes], ['Jane Doe', '2024-017', 'E-3', 'Seized at the office.']);
  t.deepEqual(log.device, { name: '/dev/sdz', size: SIZE, sectorSize: 512, sectors: SIZE / 512, scheme: 'gpt', model: 'ACME SSD 1TB', serial: 'S123', solidState: false });
  t.is(log.started, '2024-05-01T10:00:00.000Z');
  t.is(log.finished, '2024-05-01T10:00:42.500Z');
  t.deepEqual(log.hashes, { sha256: 'a'.repeat(64), md5: 'b'.repeat(32) });
  t.deepEqual(log.unreadable, [[4096, 512], [1 << 20, 4096]]);
  t.is(log.unreadableBytes, 4608);
  t.deepEqual(log.image.parts, ['/evidence/disk.lbimg', '/evidence/disk.lbimg.002', '/evidence/disk.lbimg.003']);
  t.is(log.image.encrypted, true);
  t.false(JSON.stringify(log).includes('"x"'), 'the passphrase is never in the log');
  t.deepEqual(log.remarks, [], 'no SSD remark for a disk that says it is not solid-state');
  t.is(log.verification, null);
});

test('an SSD gets the remark that TRIMmed data may read as zeros, in the JSON and the text', (t) => {
  const log = buildAcquisitionLog(plan, result({ source: { name: '/dev/sdz', size: SIZE, sectorSize: 512, solidState: true } }), {});
  t.deepEqual(log.remarks, [SSD_REMARK]);
  t.regex(SSD_REMARK, /TRIM/);
  const text = formatAcquisitionLog(log);
  t.regex(text, /Remarks\n {2}- The device reports itself as a solid-state drive\./);
  t.regex(text.replace(/\s+/g, ' '), /may read as zeros/);
  const remarks = text.slice(text.indexOf('Remarks'));
  t.true(remarks.split('\n').every((l) => l.length <= 78), 'wrapped for paper');
});

test('unknown fields say so instead of being left out; options fill in what the metadata lacks', (t) => {
  const bare = result({ acquisition: undefined, source: undefined, unreadable: undefined });
  const log = buildAcquisitionLog(plan, bare, { acquisition: { examiner: 'J. Roe' }, identity: { model: 'Disk', solidState: true } });
  t.is(log.examiner, 'J. Roe');
  t.is(log.caseNumber, null);
  t.is(log.device.model, 'Disk');
  t.is(log.device.serial, null);
  t.deepEqual(log.unreadable, []);
  t.is(log.remarks.length, 1);
  const text = formatAcquisitionLog(log);
  t.true(text.includes('\nCase number:       not recorded\n'));
  t.true(text.includes('\n  Serial:          not known\n'));
  t.regex(text, /Unreadable ranges: none/);
});

test('the text report names every field and lines the values up', (t) => {
  const log = buildAcquisitionLog(plan, result(), {}, { finished: '2024-05-01T10:01:00.000Z', complete: true, problems: 0, hashesMatch: true });
  const text = formatAcquisitionLog(log);
  // Values start in column 20 whatever the label; continuation lines keep that column.
  for (const expected of [
    'Examiner:          Jane Doe',
    'Case number:       2024-017',
    'Evidence id:       E-3',
    'Notes:             Seized at the office.',
    '  Name:            /dev/sdz',
    '  Size:            67108864 bytes',
    '  Sector size:     512 bytes (131072 sectors)',
    '  Model:           ACME SSD 1TB',
    '  Serial:          S123',
    '  Started:         2024-05-01T10:00:00.000Z',
    '  Duration:        42.5 s',
    `  SHA-256:         ${'a'.repeat(64)}`,
    `  MD5:             ${'b'.repeat(32)}`,
    'Unreadable ranges (4608 bytes, stored and hashed as zeros):\n  bytes 4096-4607 (512 bytes)\n  bytes 1048576-1052671 (4096 bytes)',
    '  Parts:           /evidence/disk.lbimg\n                   /evidence/disk.lbimg.002\n                   /evidence/disk.lbimg.003',
    '  Size:            12345678 bytes',
    '  Result:          every record decoded; the hashes recomputed from the image match',
  ]) t.true(text.includes(`\n${expected}\n`), expected);
});
