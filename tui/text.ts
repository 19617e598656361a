/** Every user-visible sentence of the front ends, in one place (STYLE.md 14). */
export const TEXT = {
  usage: [
    'usage: lifeboat [command]',
    '',
    '  (no command)                 inspect the bundled demo disk',
    '  inspect <disk-or-image> [--json]',
    '                               show the partition layout and what each partition holds',
    '  help                         this text',
  ].join('\n'),
  demoIntro: (path: string) => `Lifeboat demo: the bundled Windows-like disk, unpacked to ${path}\n`,
  unknownCommand: (c: string) => `lifeboat: unknown command ${JSON.stringify(c)}; try "lifeboat help"`,
  missingArgument: (what: string) => `lifeboat: ${what} is missing; try "lifeboat help"`,
  failed: (message: string) => `lifeboat: ${message}`,
  inspect: {
    noTable: 'no partition table',
    warning: 'warning',
    excluded: 'contents left out of backups',
    diffArea: 'shadow-copy diff area',
    unreadable: 'filesystem unreadable',
    partition: 'partition',
  },
} as const;
