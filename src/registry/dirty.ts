/**
 * Dirty hives (boot-and-bcd.md 5.7): primary ≠ secondary sequence number means Windows started
 * writing the hive and did not finish; the newer data sits in its .LOG1/.LOG2 transaction logs.
 * Editing such a hive (and writing it back clean) would silently drop that data, so the writer
 * replays the logs first (log-replay.ts) and refuses with HiveDirtyError when none are supplied
 * or they hold nothing it may apply.
 */
import { LifeboatError } from '../errors.ts';

export class HiveDirtyError extends LifeboatError {
  constructor(hive: string, primarySequenceNumber: number, secondarySequenceNumber: number, detail?: string) {
    super('HIVE_DIRTY',
      `hive ${hive} is dirty (primary sequence number ${primarySequenceNumber}, secondary ${secondarySequenceNumber}): `
      + 'Windows did not finish writing it, and its latest changes are in its .LOG1/.LOG2 transaction logs. '
      + (detail ?? 'No .LOG1/.LOG2 files were supplied; they must be, so their changes can be replayed')
      + '; it refuses to edit the hive rather than drop those changes. '
      + 'Boot the installed Windows once and shut it down cleanly, or supply a clean copy of the hive.',
      { hive, primarySequenceNumber, secondarySequenceNumber });
  }
}

/** Transaction logs of a hive, as read from disk next to it (e.g. SYSTEM.LOG1, SYSTEM.LOG2). */
export interface HiveLogs {
  log1?: Uint8Array;
  log2?: Uint8Array;
}
