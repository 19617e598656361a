/**
 * DOS date/time pairs (FAT directory entries; exFAT timestamps use the same bit layout).
 * FAT records local wall-clock time without a zone, so the Date returned carries that wall
 * clock in its UTC fields (`toISOString()` shows what the volume says). exFAT may add a UTC
 * offset; when it is valid the Date is the true instant.
 */

/** `date`: bits 15–9 year − 1980, 8–5 month, 4–0 day; `time`: 15–11 hour, 10–5 minute,
 * 4–0 seconds / 2; `centiseconds`: 0–199 added (FAT create time, exFAT 10 ms fields).
 * Undefined for a zero or impossible date (FAT leaves unused times zero). */
export function dosDateTime(date: number, time: number, centiseconds = 0, utcOffsetMinutes = 0): Date | undefined {
  const year = 1980 + (date >>> 9);
  const month = (date >>> 5) & 0x0f;
  const day = date & 0x1f;
  const hour = time >>> 11;
  const minute = (time >>> 5) & 0x3f;
  const second = (time & 0x1f) * 2;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59 || centiseconds > 199) return undefined;
  const wallClock = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 31 February over into March: refuse rather than show another day.
  if (new Date(wallClock).getUTCDate() !== day) return undefined;
  return new Date(wallClock + centiseconds * 10 - utcOffsetMinutes * 60_000);
}

/**
 * The DOS fields of `when`, read from its UTC fields (the wall clock, as `dosDateTime` gives it
 * back); years outside 1980–2107 are clamped to the format's range. `centiseconds` is
 * DIR_CrtTimeTenth: the odd second and the milliseconds in units of 10 ms.
 */
export function encodeDosDateTime(when: Date): { date: number; time: number; centiseconds: number } {
  const year = when.getUTCFullYear();
  if (year < 1980) return { date: (1 << 5) | 1, time: 0, centiseconds: 0 };
  if (year > 2107) return { date: (127 << 9) | (12 << 5) | 31, time: (23 << 11) | (59 << 5) | 29, centiseconds: 199 };
  const second = when.getUTCSeconds();
  return {
    date: ((year - 1980) << 9) | ((when.getUTCMonth() + 1) << 5) | when.getUTCDate(),
    time: (when.getUTCHours() << 11) | (when.getUTCMinutes() << 5) | (second >>> 1),
    centiseconds: (second & 1) * 100 + Math.floor(when.getUTCMilliseconds() / 10),
  };
}
