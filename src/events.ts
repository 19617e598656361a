/**
 * Typed events the engine reports while it works (STYLE.md #1): the TUI, a progress line and a
 * JSON-lines reporter are interchangeable consumers. Importable from anywhere in src/.
 */
export type Phase = 'plan' | 'copy' | 'finish' | 'verify';

export type BackupEvent =
  | { type: 'phase'; phase: Phase; message: string }
  | { type: 'progress'; phase: Phase; bytesDone: number; bytesTotal: number; imageBytes?: number; rate: number; etaSeconds?: number | undefined }
  | { type: 'warning'; message: string };
