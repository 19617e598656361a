/**
 * What a command may touch of the outside world, handed in by the composition root
 * (tui/main.ts): output streams, the terminal, the environment and the Ctrl-C signal. Commands
 * take it as a parameter so none of them reaches for `process` on its own.
 */
export interface CliContext {
  /** Write to stdout (results, JSON lines). */
  out(text: string): void;
  /** Write to stderr (progress, warnings, prompts). */
  err(text: string): void;
  /** stderr is a terminal: progress redraws one line in place. */
  stderrIsTty: boolean;
  /** stdin is a terminal: a passphrase can be asked for. */
  stdinIsTty: boolean;
  env: Readonly<Record<string, string | undefined>>;
  /** Ask for a line without echo (only called when stdinIsTty). */
  ask(prompt: string): Promise<string>;
  /** Aborted by Ctrl-C (SIGINT). */
  signal: AbortSignal;
}

/** Exit statuses, documented in docs/cli.md. */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  problems: 3,
  interrupted: 130,
} as const;
