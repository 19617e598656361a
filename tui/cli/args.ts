/**
 * A small option parser for the headless commands: `--name value`, `--name=value` and bare
 * flags, declared per command as data. Anything it cannot make sense of is a UsageError (exit
 * status 2), never silently ignored: a mistyped option on a backup must not go unnoticed.
 */
import { UsageError } from '../../src/index.ts';
import { TEXT } from '../text.ts';

export interface OptionSpec {
  /** Without the leading dashes. */
  name: string;
  /** True: takes a value (`--level 5`); false: a flag (`--json`). */
  value: boolean;
}

export interface CommandSpec {
  command: string;
  options: readonly OptionSpec[];
  /** Options refused with a reason (e.g. `--passphrase`, which would leak into `ps` and shell history). */
  refused?: Readonly<Record<string, string>>;
}

export interface ParsedArgs {
  positional: string[];
  values: Map<string, string>;
  flags: Set<string>;
}

export function parseArgs(argv: readonly string[], spec: CommandSpec): ParsedArgs {
  const parsed: ParsedArgs = { positional: [], values: new Map(), flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      parsed.positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      if (arg.startsWith('-') && arg !== '-' && arg !== '-h') throw new UsageError(TEXT.args.unknownOption(spec.command, arg));
      if (arg === '-h') parsed.flags.add('help');
      else parsed.positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const reason = spec.refused?.[name];
    if (reason) throw new UsageError(TEXT.args.refused(name, reason));
    const option = spec.options.find((o) => o.name === name);
    if (!option) throw new UsageError(TEXT.args.unknownOption(spec.command, `--${name}`));
    if (parsed.values.has(name) || parsed.flags.has(name)) throw new UsageError(TEXT.args.givenTwice(name));
    if (!option.value) {
      if (eq >= 0) throw new UsageError(TEXT.args.flagWithValue(name));
      parsed.flags.add(name);
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      // The next word is the value unless it is another option: `--notes --json` is a mistake, not a note.
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        value = next;
        i++;
      }
    }
    if (value === undefined || value === '') throw new UsageError(TEXT.args.needsValue(name));
    parsed.values.set(name, value);
  }
  return parsed;
}

/** Exactly `names.length` positional arguments, named for the error message. */
export function positionals(parsed: ParsedArgs, command: string, names: readonly string[]): string[] {
  if (parsed.positional.length < names.length) throw new UsageError(TEXT.missingArgument(names[parsed.positional.length]!));
  if (parsed.positional.length > names.length) throw new UsageError(TEXT.args.extraArgument(command, parsed.positional[names.length]!));
  return parsed.positional;
}
