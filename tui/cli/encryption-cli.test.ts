/**
 * Passphrases on the command line: from a file, from LIFEBOAT_PASSPHRASE, typed at a real
 * terminal (util-linux `script` gives the process a pseudo-terminal) — and never as an argument.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, ROOT } from '../../test/helpers/fixtures.ts';
import { scratchDir } from '../../test/helpers/tools.ts';
import { digest, lifeboat, MAIN } from './cli-test-helpers.ts';

const scratch = scratchDir('lifeboat-cli-crypt-');
test.after.always(() => scratch.remove());
const disk = fixture('mixed-mbr').image;
const before = digest(disk);
const PASSPHRASE = 'correct horse battery staple';

test('--passphrase-file: an encrypted split image that opens with the same passphrase from the environment, and with no other', async (t) => {
  const file = join(scratch.dir, 'passphrase.txt');
  writeFileSync(file, `${PASSPHRASE}\n`); // the line break an editor adds is not part of it
  const image = join(scratch.dir, 'file.lbimg');
  const backup = await lifeboat(['backup', disk, image, '--passphrase-file', file, '--split', '9M', '--level', '1', '--threads', '2']);
  t.is(backup.status, 0, backup.stderr);
  t.regex(backup.stdout, /encrypted \(passphrase from the passphrase file\)/);
  t.regex(backup.stdout, /Image written: .*file\.lbimg \(2 parts\)/);
  t.is(digest(disk), before, 'the source is unchanged');
  const parts = readdirSync(scratch.dir).filter((f) => f.startsWith('file.lbimg')).sort();
  t.deepEqual(parts, ['file.lbimg', 'file.lbimg.002']);
  for (const p of parts) t.false(readFileSync(join(scratch.dir, p)).includes(PASSPHRASE), `${p} does not hold the passphrase`);

  const good = await lifeboat(['verify', image], { env: { LIFEBOAT_PASSPHRASE: PASSPHRASE } });
  t.is(good.status, 0, good.stdout + good.stderr);
  const info = await lifeboat(['info', image, '--json'], { env: { LIFEBOAT_PASSPHRASE: PASSPHRASE } });
  t.is(info.status, 0, info.stderr);
  const summary = JSON.parse(info.stdout);
  t.true(summary.image.encrypted);
  t.is(summary.image.parts.length, 2);

  const wrong = await lifeboat(['verify', image], { env: { LIFEBOAT_PASSPHRASE: 'Correct horse battery staple' } });
  t.is(wrong.status, 1);
  t.is(wrong.stderr, `lifeboat: the passphrase in LIFEBOAT_PASSPHRASE does not open ${image}\n`);
  const wrongFile = join(scratch.dir, 'wrong.txt');
  writeFileSync(wrongFile, 'nope');
  const wrongInfo = await lifeboat(['info', image, '--passphrase-file', wrongFile]);
  t.is(wrongInfo.status, 1);
  t.regex(wrongInfo.stderr, /^lifeboat: the passphrase in the passphrase file does not open/);

  const none = await lifeboat(['verify', image]);
  t.is(none.status, 2);
  t.regex(none.stderr, /is encrypted: give its passphrase with --passphrase-file FILE or LIFEBOAT_PASSPHRASE/);
});

test('--passphrase is refused, saying why, before anything is written', async (t) => {
  for (const args of [['--passphrase', 'hunter2'], ['--passphrase=hunter2']]) {
    const image = join(scratch.dir, 'refused.lbimg');
    const run = await lifeboat(['backup', disk, image, ...args]);
    t.is(run.status, 2);
    t.regex(run.stderr, /^lifeboat: --passphrase is not accepted: a passphrase on the command line can be read by every user of this machine \(ps, \/proc\) and stays in the shell history; use --encrypt/);
    t.false(existsSync(image));
  }
  t.is((await lifeboat(['verify', 'x.lbimg', '--passphrase', 'y'])).status, 2);
});

test('a missing or empty passphrase file is a clear error', async (t) => {
  const image = join(scratch.dir, 'nofile.lbimg');
  const missing = await lifeboat(['backup', disk, image, '--passphrase-file', join(scratch.dir, 'absent.txt')]);
  t.is(missing.status, 1);
  t.regex(missing.stderr, /^lifeboat: the passphrase file .*absent\.txt cannot be read: ENOENT/);
  const empty = join(scratch.dir, 'empty.txt');
  writeFileSync(empty, '\n');
  const run = await lifeboat(['backup', disk, image, '--passphrase-file', empty]);
  t.is(run.status, 2);
  t.regex(run.stderr, /the passphrase file .*empty\.txt is empty/);
  t.false(existsSync(image));
});

/** Run lifeboat under a pseudo-terminal, answering each prompt when it appears; returns everything the terminal showed. */
function atTerminal(args: string[], answers: Array<[prompt: string, answer: string]>): Promise<{ status: number | null; screen: string }> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, MAIN, ...args].map(quote).join(' ');
  const { LIFEBOAT_PASSPHRASE: _inherited, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let next = 0;
    let searchFrom = 0;
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      screen += s;
      const pending = answers[next];
      const at = pending ? screen.indexOf(pending[0], searchFrom) : -1;
      if (pending && at >= 0) {
        next++;
        searchFrom = at + pending[0].length;
        child.stdin.write(`${pending[1]}\r`);
      }
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, screen }));
  });
}

test('--encrypt at a terminal: asked twice without echo; the image opens with that passphrase', async (t) => {
  const image = join(scratch.dir, 'typed.lbimg');
  const typed = 'typed at the keyboard';
  const run = await atTerminal(['backup', disk, image, '--encrypt', '--threads', '2', '--level', '1'],
    [['Passphrase for the new image: ', typed], ['The same passphrase again: ', typed]]);
  t.is(run.status, 0, run.screen);
  t.false(run.screen.includes(typed), 'nothing typed is echoed');
  t.regex(run.screen, /encrypted \(passphrase as typed\)/);
  t.regex(run.screen, /\r\x1b\[Kcopy +\d+\.\d%/, 'progress redraws one line on a terminal');
  const verify = await lifeboat(['verify', image], { env: { LIFEBOAT_PASSPHRASE: typed } });
  t.is(verify.status, 0, verify.stdout + verify.stderr);

  // Asked for the passphrase of an existing image when none was given.
  const info = await atTerminal(['info', image], [[`Passphrase for ${image}: `, typed]]);
  t.is(info.status, 0, info.screen);
  t.regex(info.screen, /Lifeboat image, complete/);
  t.false(info.screen.includes(typed));
});

test('--encrypt at a terminal: two different passphrases write nothing', async (t) => {
  const image = join(scratch.dir, 'mismatch.lbimg');
  const run = await atTerminal(['backup', disk, image, '--encrypt'],
    [['Passphrase for the new image: ', 'one'], ['The same passphrase again: ', 'two']]);
  t.is(run.status, 2, run.screen);
  t.regex(run.screen, /lifeboat: the two passphrases differ; nothing was written/);
  t.false(existsSync(image));
});
