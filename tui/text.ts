/** Every user-visible sentence of the front ends, in one place (STYLE.md 14). */
import type { PassphraseOrigin } from './cli/passphrase.ts';

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

const HELP = {
  inspect: [
    '  inspect <disk-or-image> [--json]',
    '      show the partition layout and what each partition holds',
  ],
  backup: [
    '  backup <source> <image> [options]',
    '      back up a disk (or disk image file) to a Lifeboat image',
    '      --mode intelligent|sector|forensic   what to read (default intelligent)',
    '      --partitions 1,3        only these partitions (not with forensic)',
    '      --exclude-diff-area     leave the shadow-copy stores\' contents out',
    '      --level N               zstd level 1..19 (default 3)',
    '      --chunk-size 1M|2M|4M   source bytes per chunk (default 1M)',
    '      --split SIZE            parts of at most SIZE (4G, 700M; K/M/G/T = 1024-based)',
    '      --encrypt               encrypt; asks for the passphrase twice',
    '      --passphrase-file FILE  encrypt with the passphrase in FILE',
    '                              (LIFEBOAT_PASSPHRASE in the environment also encrypts)',
    '      --threads N             compression threads',
    '      --verify                verify the image when it is written',
    '      --json                  JSON lines on stdout instead of text',
    '      forensic only: --hash md5,sha1 (SHA-256 is always computed), --examiner NAME,',
    '      --case NUMBER, --evidence ID, --notes TEXT; the log goes to <image>.log.json/.log.txt',
  ],
  verify: [
    '  verify <image> [--against-source SOURCE] [--passphrase-file FILE] [--json]',
    '      decode every record, recompute forensic hashes, optionally compare with the source',
    '      exit status 0 = fine, 3 = problems found, 1 = could not verify',
  ],
  info: [
    '  info <image> [--passphrase-file FILE] [--json]',
    '      what the image holds, from its metadata; works on incomplete images',
  ],
};

export const TEXT = {
  usage: [
    'usage: lifeboat [command]',
    '',
    '  (no command)',
    '      inspect the bundled demo disk',
    ...HELP.inspect,
    ...HELP.backup,
    ...HELP.verify,
    ...HELP.info,
    '  help',
    '      this text',
    '',
    'Passphrases are never taken on the command line: use --encrypt (asks), --passphrase-file',
    'FILE or LIFEBOAT_PASSPHRASE. Exit status: 0 ok, 1 error, 2 usage, 3 verify found',
    'problems, 130 interrupted. More in docs/cli.md.',
  ].join('\n'),
  help: {
    inspect: ['usage:', ...HELP.inspect].join('\n'),
    backup: ['usage:', ...HELP.backup].join('\n'),
    verify: ['usage:', ...HELP.verify].join('\n'),
    info: ['usage:', ...HELP.info].join('\n'),
  },
  demoIntro: (path: string) => `Lifeboat demo: the bundled Windows-like disk, unpacked to ${path}\n`,
  unknownCommand: (c: string) => `unknown command ${JSON.stringify(c)}; try "lifeboat help"`,
  missingArgument: (what: string) => `${what} is missing`,
  failed: (message: string) => `lifeboat: ${message}`,
  withHelpHint: (message: string, command: string) => `${message} (see "lifeboat ${command} --help")`,
  warning: (message: string) => `warning: ${message}`,
  interrupting: 'Interrupted: stopping after the chunk in hand (press Ctrl-C again to quit at once)…',
  args: {
    unknownOption: (command: string, option: string) => `${command} has no option ${option}`,
    refused: (option: string, reason: string) => `--${option} is not accepted: ${reason}`,
    givenTwice: (option: string) => `--${option} is given twice`,
    flagWithValue: (option: string) => `--${option} takes no value`,
    needsValue: (option: string) => `--${option} needs a value`,
    extraArgument: (command: string, arg: string) => `${command}: unexpected argument ${JSON.stringify(arg)}`,
    badSize: (option: string, text: string) => `--${option} ${JSON.stringify(text)} is not a size (examples: 4G, 700M, 1048576)`,
    badInteger: (option: string, text: string, min: number, max: number) => `--${option} ${JSON.stringify(text)} is not a whole number from ${min} to ${max}`,
    badChunkSize: (text: string) => `--chunk-size ${JSON.stringify(text)}: the chunk size is 1M, 2M or 4M`,
    badHash: (name: string) => `--hash: ${JSON.stringify(name)} is not one of md5, sha1 (SHA-256 is always computed)`,
  },
  passphrase: {
    refused: 'a passphrase on the command line can be read by every user of this machine (ps, /proc) ' +
      'and stays in the shell history; use --encrypt to be asked for it, --passphrase-file FILE, or LIFEBOAT_PASSPHRASE',
    fileUnreadable: (path: string, why: string) => `the passphrase file ${path} cannot be read: ${why}`,
    fileEmpty: (path: string) => `the passphrase file ${path} is empty`,
    noTerminal: 'a passphrase is needed and there is no terminal to ask on: use --passphrase-file FILE or LIFEBOAT_PASSPHRASE',
    needed: (image: string) => `${image} is encrypted: give its passphrase with --passphrase-file FILE or LIFEBOAT_PASSPHRASE`,
    promptNew: 'Passphrase for the new image: ',
    promptAgain: 'The same passphrase again: ',
    prompt: (image: string) => `Passphrase for ${image}: `,
    empty: 'the passphrase is empty',
    mismatch: 'the two passphrases differ; nothing was written',
    interrupted: 'interrupted at the passphrase prompt; nothing was written',
    wrong: (image: string, origin: PassphraseOrigin) => `the passphrase ${origin === 'file' ? 'in the passphrase file'
      : origin === 'environment' ? 'in LIFEBOAT_PASSPHRASE' : 'typed'} does not open ${image}`,
  },
  progress: {
    eta: 'ETA',
    ratio: 'ratio',
  },
  plan: {
    heading: (mode: string, source: string, facts: string) => `Plan: ${mode} backup of ${source} (${facts})`,
    forensicWhole: (size: string, bytes: number) => `every byte of the device: ${size} (${bytes} bytes), start to end`,
    hashes: (names: string) => `hashes of the device data: ${names}`,
    columns: ['#', 'filesystem', 'label', 'mode', 'to store', 'size'],
    excludedFile: (path: string, size: string) => `${path} ${size} (contents left out)`,
    diffArea: (size: string, excluded: boolean) => `shadow-copy diff area: ${size} (${excluded ? 'contents left out' : 'included'})`,
    tables: (size: string) => `partition tables and boot area: ${size}`,
    total: (size: string, bytes: number) => `to store: ${size} (${bytes} bytes)`,
    settings: (destination: string, level: number, chunk: string, split: string | undefined, encrypted: string | undefined) =>
      `image ${destination}: zstd level ${level}, ${chunk} chunks${split ? `, parts of at most ${split}` : ''}, ` +
      (encrypted ? `encrypted (${encrypted})` : 'not encrypted'),
  },
  backup: {
    badMode: (mode: string) => `--mode ${JSON.stringify(mode)} is not one of intelligent, sector, forensic`,
    forensicWhole: (option: string) => `a forensic image covers the whole device: ${option} cannot be used with --mode forensic`,
    forensicOnly: (option: string) => `--${option} belongs to a forensic acquisition: add --mode forensic`,
    exists: (paths: string[]) => `${paths.join(', ')} already ${paths.length === 1 ? 'exists' : 'exist'}; Lifeboat never overwrites an image ` +
      'or its log: choose another name, or move or delete the old one first',
    passphraseFrom: (origin: PassphraseOrigin) => `passphrase ${origin === 'file' ? 'from the passphrase file'
      : origin === 'environment' ? 'from LIFEBOAT_PASSPHRASE' : 'as typed'}`,
    interruptedBeforeCopy: 'interrupted before copying; no image was written',
    interrupted: (image: string) => `interrupted: ${image} is incomplete (it has no footer); ` +
      `"lifeboat info ${image}" shows what it holds; delete it to start again`,
    interruptedAfterImage: (image: string) => `interrupted after ${image} was finished: the image is complete, verification was skipped`,
    written: (path: string, parts: number) => `Image written: ${path}${parts > 1 ? ` (${parts} parts)` : ''}`,
    sizes: (stored: string, image: string, ratio: number) => `${stored} of disk data in ${image} of image (ratio ${ratio.toFixed(2)})`,
    chunks: (chunks: number, zero: number, seconds: string, rate: string) =>
      `${plural(chunks, 'chunk')} (${zero} all zero, not stored) in ${seconds} s, ${rate}/s`,
    logsWritten: (paths: string[]) => `Acquisition log: ${paths.join(', ')}`,
    logFailed: (path: string, why: string) => `the acquisition log ${path} could not be written: ${why}`,
  },
  verify: {
    heading: (path: string) => `Verify ${path}`,
    complete: 'complete: footer, index and final metadata are valid',
    incomplete: 'INCOMPLETE: no valid footer, index or final metadata (see the problems below)',
    counts: (mode: string, records: number, chunks: number, zero: number, good: string, goodBytes: number) =>
      `${mode} image: ${plural(records, 'record')} decoded, ${plural(chunks, 'chunk')} (${zero} all zero), ${good} (${goodBytes} bytes) of source data intact`,
    hashesHeading: 'device hashes recomputed from the image data:',
    notComputed: '(not computed)',
    hashMatches: 'matches the recorded hash',
    hashDiffers: (expected: string) => `DIFFERS from the recorded ${expected}`,
    againstSource: (compared: string, bytes: number, differences: number) =>
      `compared with the source: ${compared} (${bytes} bytes), ${differences === 0 ? 'no differences' : `${plural(differences, 'range')} differ`}`,
    problemsHeading: (n: number) => `${plural(n, 'problem')}:`,
    passed: (seconds: string) => `OK: no problems found (${seconds} s)`,
    failed: (n: number) => `FAILED: ${plural(n, 'problem')} found`,
  },
  info: {
    complete: 'Lifeboat image, complete',
    incomplete: 'Lifeboat image, INCOMPLETE',
    mode: (mode: string) => `mode: ${mode}`,
    created: (at: string, tool: string) => `created ${at} by ${tool}`,
    source: (name: string, size: string, bytes: number, sectorSize: number, scheme: string, diskId: string | undefined) =>
      `source: ${name}, ${size} (${bytes} bytes), ${sectorSize}-byte sectors, ${scheme === 'none' ? 'no partition table' : scheme.toUpperCase()}` +
      (diskId ? `, disk id ${diskId}` : ''),
    identity: (model: string, serial: string) => `model ${model}, serial ${serial}`,
    image: (parts: number, size: string, bytes: number, chunk: string, encrypted: boolean) =>
      `image: ${plural(parts, 'part')}, ${size} (${bytes} bytes), ${chunk} chunks, ${encrypted ? 'encrypted' : 'not encrypted'}`,
    chunks: (chunks: number, zero: number, stored: string) => `${plural(chunks, 'chunk')} (${zero} all zero), ${stored} of disk data`,
    chunksFound: (chunks: number, usable: string) => `${plural(chunks, 'chunk')} found by scanning, covering ${usable} of the disk`,
    columns: ['#', 'start', 'size', 'filesystem', 'label', 'mode', 'stored'],
    hashes: 'device hashes recorded at acquisition:',
    acquisitionHeading: 'acquisition:',
    acquisition: {
      examiner: 'examiner', caseNumber: 'case', evidenceId: 'evidence', notes: 'notes', started: 'started', finished: 'finished',
    } as Record<string, string>,
    unreadable: (ranges: number, bytes: number) => ranges === 0 ? 'unreadable ranges: none' : `unreadable: ${plural(ranges, 'range')}, ${bytes} bytes (zeros in the image)`,
    whyIncomplete: 'incomplete because:',
  },
  inspect: {
    noTable: 'no partition table',
    warning: 'warning',
    excluded: 'contents left out of backups',
    diffArea: 'shadow-copy diff area',
    unreadable: 'filesystem unreadable',
    partition: 'partition',
  },
} as const;
