/**
 * Composition root: picks the devices and the front end, then hands over to it.
 * For now the only front end is the headless command line; the text UI joins here later.
 * This is the one place that touches `process`: streams, terminal, environment, signals and
 * the exit status (docs/cli.md, Exit status).
 */
import { LifeboatError } from '../src/index.ts';
import { backupCommand } from './cli/backup-command.ts';
import { EXIT, type CliContext } from './cli/context.ts';
import { infoCommand } from './cli/info-command.ts';
import { inspectCli, inspectCommand } from './cli/inspect-command.ts';
import { readHidden } from './cli/passphrase.ts';
import { restoreCommand } from './cli/restore-command.ts';
import { fixBootCommand } from './cli/fix-boot-command.ts';
import { verifyCommand } from './cli/verify-command.ts';
import { demoDisk } from './demo.ts';
import { TEXT } from './text.ts';

type Command = (argv: readonly string[], ctx: CliContext) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  backup: backupCommand,
  verify: verifyCommand,
  info: infoCommand,
  inspect: inspectCli,
  restore: restoreCommand,
  'fix-boot': fixBootCommand,
};

/** Commands that stop cleanly on Ctrl-C; the others keep Node's default (exit at once). */
const ABORTABLE = new Set(['backup', 'verify', 'restore']);

const write = (stream: NodeJS.WriteStream) => (text: string) => {
  stream.write(text);
};

function context(signal: AbortSignal): CliContext {
  return {
    out: write(process.stdout),
    err: write(process.stderr),
    stderrIsTty: process.stderr.isTTY === true,
    stdinIsTty: process.stdin.isTTY === true,
    env: process.env,
    ask: (prompt) => readHidden(prompt, process.stdin, process.stderr),
    signal,
  };
}

/** Our typed errors carry a message meant for the user; anything else is a bug: show the stack. */
function exitStatus(error: unknown): { status: number; message: string; code: string } {
  if (error instanceof LifeboatError) {
    const status = error.code === 'ABORTED' ? EXIT.interrupted : error.code === 'USAGE' ? EXIT.usage : EXIT.error;
    return { status, message: error.message, code: error.code };
  }
  return { status: EXIT.error, message: error instanceof Error ? (error.stack ?? error.message) : String(error), code: 'INTERNAL' };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    const disk = demoDisk();
    process.stdout.write(`${TEXT.demoIntro(disk)}\n`);
    await inspectCommand(disk, false, (text) => process.stdout.write(`${text}\n`));
    return EXIT.ok;
  }
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${TEXT.usage}\n`);
    return EXIT.ok;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`${TEXT.failed(TEXT.unknownCommand(command))}\n`);
    return EXIT.usage;
  }
  const controller = new AbortController();
  const onInterrupt = () => {
    // The first Ctrl-C stops between chunks and leaves an image marked incomplete; a second one does not wait.
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    process.stderr.write(`\n${TEXT.interrupting}\n`);
    controller.abort();
  };
  if (ABORTABLE.has(command)) process.on('SIGINT', onInterrupt);
  try {
    return await run(rest, context(controller.signal));
  } catch (error) {
    const { status, message, code } = exitStatus(error);
    process.stderr.write(`${TEXT.failed(status === EXIT.usage ? TEXT.withHelpHint(message, command) : message)}\n`);
    // Programs reading JSON lines get the failure as the last line, not only on stderr.
    if (rest.includes('--json')) process.stdout.write(`${JSON.stringify({ type: 'error', code, message })}\n`);
    return status;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    process.stderr.write(`${TEXT.failed(exitStatus(error).message)}\n`);
    process.exitCode = EXIT.error;
  },
);
