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
