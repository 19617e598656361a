/**
 * Where a passphrase comes from: `--passphrase-file`, then LIFEBOAT_PASSPHRASE, then a prompt
 * without echo when stdin is a terminal. Never the command line: arguments are visible to every
 * user through `ps` and /proc, and stay in shell history (docs/cli.md, Passphrases).
 */
import { readFileSync } from 'node:fs';
import { LifeboatError, UsageError } from '../../src/index.ts';
import type { CliContext } from './context.ts';
import { TEXT } from '../text.ts';

export const PASSPHRASE_ENV = 'LIFEBOAT_PASSPHRASE';

export interface PassphraseSources {
  /** Value of `--passphrase-file`. */
  file?: string | undefined;
  /** Value of LIFEBOAT_PASSPHRASE. */
  env: string | undefined;
  /** stdin is a terminal, so the user can be asked. */
  interactive: boolean;
  /** Ask once, without echo. */
  ask: (prompt: string) => Promise<string>;
}

export function passphraseSources(ctx: Pick<CliContext, 'env' | 'stdinIsTty' | 'ask'>, file: string | undefined): PassphraseSources {
  return { file, env: ctx.env[PASSPHRASE_ENV], interactive: ctx.stdinIsTty, ask: (prompt) => ctx.ask(prompt) };
}

export type PassphraseOrigin = 'file' | 'environment' | 'prompt';

function fromFile(path: string): string {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LifeboatError('PASSPHRASE_FILE', TEXT.passphrase.fileUnreadable(path, e instanceof Error ? e.message : String(e)), { path });
  }
  // One trailing line break is how editors and `echo` end a file; it is not part of the passphrase.
  const passphrase = content.replace(/\r?\n$/, '');
  if (passphrase === '') throw new UsageError(TEXT.passphrase.fileEmpty(path));
  return passphrase;
}

/** A passphrase given without asking (file, then environment), or undefined. */
export function givenPassphrase(sources: PassphraseSources): { passphrase: string; origin: PassphraseOrigin } | undefined {
  if (sources.file !== undefined) return { passphrase: fromFile(sources.file), origin: 'file' };
  if (sources.env !== undefined && sources.env !== '') return { passphrase: sources.env, origin: 'environment' };
  return undefined;
}

/** For a new image: given, or asked twice (a typo would lock the image for good). */
export async function passphraseForNewImage(sources: PassphraseSources): Promise<{ passphrase: string; origin: PassphraseOrigin }> {
  const given = givenPassphrase(sources);
  if (given) return given;
  if (!sources.interactive) throw new UsageError(TEXT.passphrase.noTerminal);
  const first = await sources.ask(TEXT.passphrase.promptNew);
  if (first === '') throw new UsageError(TEXT.passphrase.empty);
  const second = await sources.ask(TEXT.passphrase.promptAgain);
  if (first !== second) throw new UsageError(TEXT.passphrase.mismatch);
  return { passphrase: first, origin: 'prompt' };
}

/** For an existing encrypted image that was opened without one: ask once, or say how to give it. */
export async function askForImagePassphrase(sources: PassphraseSources, image: string): Promise<string> {
  if (!sources.interactive) throw new UsageError(TEXT.passphrase.needed(image));
  const passphrase = await sources.ask(TEXT.passphrase.prompt(image));
  if (passphrase === '') throw new UsageError(TEXT.passphrase.empty);
  return passphrase;
}

/**
 * The engine's refusal to open an encrypted image without a passphrase: a UsageError naming
 * the image. (A dedicated error code in the engine would make this check less indirect.)
 */
export function isPassphraseNeeded(e: unknown, image: string): boolean {
  return e instanceof LifeboatError && e.code === 'PASSPHRASE_NEEDED' && e.data.path === image;
}

/**
 * Run `attempt` (open or verify an image) with the given passphrase; when none was given and
 * the image turns out to be encrypted, ask once and run it again. The engine refuses before
 * doing any work, so the first attempt costs nothing. A wrong passphrase is named with where
 * it came from, so the user knows which one to fix.
 */
export async function withImagePassphrase<T>(image: string, sources: PassphraseSources, attempt: (passphrase: string | undefined) => Promise<T>): Promise<T> {
  const given = givenPassphrase(sources);
  let origin: PassphraseOrigin | undefined = given?.origin;
  try {
    try {
      return await attempt(given?.passphrase);
    } catch (e) {
      if (given || !isPassphraseNeeded(e, image)) throw e;
      const asked = await askForImagePassphrase(sources, image);
      origin = 'prompt';
      return await attempt(asked);
    }
  } catch (e) {
    if (e instanceof LifeboatError && e.code === 'WRONG_PASSPHRASE' && origin) {
      throw new LifeboatError('WRONG_PASSPHRASE', TEXT.passphrase.wrong(image, origin), { path: image });
    }
    throw e;
  }
}

/** Thrown when the user presses Ctrl-C at the prompt (raw mode turns it into a key, not SIGINT). */
export class PromptInterruptedError extends LifeboatError {
  constructor() {
    super('ABORTED', TEXT.passphrase.interrupted);
  }
}

/** Read one line from a terminal without echoing it; Backspace edits, Ctrl-C and Ctrl-D give up. */
export function readHidden(prompt: string, input: NodeJS.ReadStream, output: NodeJS.WritableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let chars: string[] = [];
    const finish = (settle: () => void) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      settle();
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish(() => resolve(chars.join('')));
        if (ch === '\u0003' || (ch === '\u0004' && chars.length === 0)) return finish(() => reject(new PromptInterruptedError()));
        if (ch === '\u007f' || ch === '\b') chars = chars.slice(0, -1);
        else if (ch >= ' ') chars.push(ch);
      }
    };
    // Echo goes off before the prompt appears, so nothing typed in answer to it is ever shown.
    input.setEncoding('utf8');
    input.setRawMode(true);
    input.on('data', onData);
    input.resume();
    output.write(prompt);
  });
}
