/** Progress output: one redrawn line on a terminal, a line every few seconds elsewhere, JSON lines for programs. */
import test from 'ava';
import type { BackupEvent } from '../../src/index.ts';
import { formatDuration, formatProgress, jsonReporter, textReporter } from './progress.ts';

type ProgressEvent = Extract<BackupEvent, { type: 'progress' }>;

const progress = (bytesDone: number, extra: Partial<ProgressEvent> = {}): ProgressEvent => ({
  type: 'progress', phase: 'copy', bytesDone, bytesTotal: 100 << 20, rate: 10 << 20, etaSeconds: 3725, imageBytes: bytesDone / 4, ...extra,
});

test('a progress line has percent, bytes, rate, ETA and the compression ratio', (t) => {
  t.is(formatProgress(progress(25 << 20)), 'copy   25.0%  25.0 MiB / 100 MiB  10.0 MiB/s  ETA 1:02:05  ratio 0.25');
  t.is(formatProgress(progress(0, { etaSeconds: undefined, imageBytes: undefined, phase: 'verify' })), 'verify    0.0%  0 B / 100 MiB  10.0 MiB/s');
  t.is(formatDuration(59.6), '1:00');
  t.is(formatDuration(3600), '1:00:00');
});

test('on a terminal the line is redrawn in place and cleared before any other message', (t) => {
  let out = '';
  const r = textReporter({ write: (s) => { out += s; }, tty: true });
  r.event(progress(1 << 20));
  r.event(progress(2 << 20));
  r.event({ type: 'warning', message: 'careful' });
  r.event({ type: 'phase', phase: 'finish', message: 'writing the index' });
  r.done();
  t.is(out, '\r\x1b[Kcopy    1.0%  1.00 MiB / 100 MiB  10.0 MiB/s  ETA 1:02:05  ratio 0.25'
    + '\r\x1b[Kcopy    2.0%  2.00 MiB / 100 MiB  10.0 MiB/s  ETA 1:02:05  ratio 0.25'
    + '\r\x1b[Kwarning: careful\nwriting the index\n');
});

test('elsewhere a progress line at most every interval, no control characters, warnings shown once', (t) => {
  let out = '';
  let clock = 0;
  const r = textReporter({ write: (s) => { out += s; }, tty: false, intervalMs: 5000, now: () => clock, shown: ['already in the plan'] });
  for (let s = 0; s <= 12; s++) {
    clock = s * 1000;
    r.event(progress(s << 20));
  }
  r.event({ type: 'warning', message: 'already in the plan' });
  r.event({ type: 'warning', message: 'new' });
  r.done();
  t.deepEqual(out.split('\n').filter(Boolean).map((l) => l.slice(0, 12)), ['copy    5.0%', 'copy   10.0%', 'warning: new']);
  t.false(out.includes('\x1b') || out.includes('\r'));
});

test('JSON lines: each event as the engine typed it, one per line', (t) => {
  const lines: string[] = [];
  const r = jsonReporter((s) => lines.push(s));
  r.event(progress(1));
  r.object({ type: 'result', ok: true });
  t.true(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')));
  t.deepEqual(lines.map((l) => JSON.parse(l)), [progress(1), { type: 'result', ok: true }]);
});
