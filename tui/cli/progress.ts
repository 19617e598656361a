/**
 * Consumers of the engine's events (STYLE.md #1) for the command line: a single updating line
 * on a terminal, a line every few seconds in a log file or pipe, or JSON lines for programs.
 */
import type { BackupEvent } from '../../src/index.ts';
import { formatBytes } from './format.ts';
import { TEXT } from '../text.ts';

type ProgressEvent = Extract<BackupEvent, { type: 'progress' }>;

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** Percent, bytes done of total, rate, ETA and (while writing an image) the compression ratio. */
export function formatProgress(e: ProgressEvent): string {
  const percent = e.bytesTotal > 0 ? (100 * e.bytesDone) / e.bytesTotal : 100;
  const parts = [
    `${percent.toFixed(1).padStart(5)}%`,
    `${formatBytes(e.bytesDone)} / ${formatBytes(e.bytesTotal)}`,
    `${formatBytes(Math.round(e.rate))}/s`,
  ];
  if (e.etaSeconds !== undefined) parts.push(`${TEXT.progress.eta} ${formatDuration(e.etaSeconds)}`);
  // imageBytes includes headers and metadata, so early on the ratio runs high; it settles as data flows.
  if (e.imageBytes !== undefined && e.bytesDone > 0) parts.push(`${TEXT.progress.ratio} ${(e.imageBytes / e.bytesDone).toFixed(2)}`);
  return `${e.phase}  ${parts.join('  ')}`;
}

export interface Reporter {
  event(e: BackupEvent): void;
  /** Erase the progress line, before the command prints anything else. */
  done(): void;
}

export interface TextReporterOptions {
  write: (text: string) => void;
  /** A terminal: redraw one line in place. Otherwise print a progress line at most every `intervalMs`. */
  tty: boolean;
  intervalMs?: number;
  now?: () => number;
  /** Warnings already shown (the plan's), not to repeat when the engine emits them again. */
  shown?: readonly string[];
}

const CLEAR_LINE = '\r\x1b[K';

export function textReporter(options: TextReporterOptions): Reporter {
  const { write, tty } = options;
  const interval = options.intervalMs ?? 5000;
  const now = options.now ?? (() => performance.now());
  const shown = new Set(options.shown ?? []);
  let drawn = false;
  // Not on a terminal, the first line waits a whole interval too: a short job prints none.
  let lastPrinted = now();
  const clear = () => {
    if (drawn) write(CLEAR_LINE);
    drawn = false;
  };
  return {
    event(e) {
      if (e.type === 'progress') {
        if (tty) {
          write(`${CLEAR_LINE}${formatProgress(e)}`);
          drawn = true;
        } else if (now() - lastPrinted >= interval) {
          lastPrinted = now();
          write(`${formatProgress(e)}\n`);
        }
        return;
      }
      if (e.type === 'warning' && shown.has(e.message)) return;
      clear();
      write(e.type === 'warning' ? `${TEXT.warning(e.message)}\n` : `${e.message}\n`);
    },
    done: clear,
  };
}

/** One JSON object per line: the events as the engine typed them, plus the command's own objects. */
export function jsonReporter(write: (text: string) => void): Reporter & { object(value: object): void } {
  return {
    event: (e) => write(`${JSON.stringify(e)}\n`),
    object: (value) => write(`${JSON.stringify(value)}\n`),
    done: () => {},
  };
}
