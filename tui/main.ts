/**
 * Composition root: picks the devices and the front end, then hands over to it.
 * For now the only front end is the headless command line; the text UI joins here later.
 */
import { LifeboatError } from '../src/index.ts';
import { inspectCommand } from './cli/inspect-command.ts';
import { demoDisk } from './demo.ts';
import { TEXT } from './text.ts';

const out = (text: string) => process.stdout.write(`${text}\n`);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const json = rest.includes('--json');
  const positional = rest.filter((a) => !a.startsWith('--'));
  switch (command) {
    case undefined: {
      const disk = demoDisk();
      out(TEXT.demoIntro(disk));
      await inspectCommand(disk, false, out);
      return 0;
    }
    case 'inspect': {
      const target = positional[0];
      if (!target) {
        process.stderr.write(`${TEXT.missingArgument('the disk or image to inspect')}\n`);
        return 2;
      }
      await inspectCommand(target, json, out);
      return 0;
    }
    case 'help':
    case '--help':
    case '-h':
      out(TEXT.usage);
      return 0;
    default:
      process.stderr.write(`${TEXT.unknownCommand(command)}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    // Our typed errors carry a message meant for the user; anything else is a bug: show the stack.
    const message = error instanceof LifeboatError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`${TEXT.failed(message)}\n`);
    process.exitCode = 1;
  },
);
