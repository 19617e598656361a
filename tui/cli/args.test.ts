/** The option parser and value parsers: what they accept, and that every mistake is a UsageError. */
import test from 'ava';
import { UsageError } from '../../src/index.ts';
import { parseArgs, positionals, type CommandSpec } from './args.ts';
import { parseChunkSize, parseHashes, parseInteger, parsePartitions, parseSize } from './values.ts';

const spec: CommandSpec = {
  command: 'demo',
  options: [{ name: 'level', value: true }, { name: 'notes', value: true }, { name: 'json', value: false }],
  refused: { secret: 'never on the command line' },
};

test('values by space or =, flags, positionals in any order, -- ends options', (t) => {
  const p = parseArgs(['a', '--level', '5', '--json', 'b', '--notes=x=y', '--', '--not-an-option'], spec);
  t.deepEqual(p.positional, ['a', 'b', '--not-an-option']);
  t.deepEqual([...p.values], [['level', '5'], ['notes', 'x=y']]);
  t.deepEqual([...p.flags], ['json']);
  t.deepEqual(positionals(parseArgs(['x', 'y'], spec), 'demo', ['one', 'two']), ['x', 'y']);
});

test('a value may start with one dash; a following option is not taken as a value', (t) => {
  t.is(parseArgs(['--notes', '-5 degrees'], spec).values.get('notes'), '-5 degrees');
  t.throws(() => parseArgs(['--notes', '--json'], spec), { instanceOf: UsageError, message: '--notes needs a value' });
});

test('mistakes are usage errors that say what is wrong', (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--levl', '3'], /demo has no option --levl/],
    [['-x'], /demo has no option -x/],
    [['--level'], /--level needs a value/],
    [['--level='], /--level needs a value/],
    [['--json=1'], /--json takes no value/],
    [['--level', '1', '--level', '2'], /--level is given twice/],
    [['--secret', 'hunter2'], /--secret is not accepted: never on the command line/],
    [['--secret=hunter2'], /--secret is not accepted/],
  ];
  for (const [argv, message] of cases) t.throws(() => parseArgs(argv, spec), { instanceOf: UsageError, message }, argv.join(' '));
  t.throws(() => positionals(parseArgs(['a'], spec), 'demo', ['the source', 'the image']), { message: 'the image is missing' });
  t.throws(() => positionals(parseArgs(['a', 'b', 'c'], spec), 'demo', ['one', 'two']), { message: 'demo: unexpected argument "c"' });
});

test('sizes use binary units', (t) => {
  t.is(parseSize('split', '4G'), 4 * 2 ** 30);
  t.is(parseSize('split', '700M'), 700 * 2 ** 20);
  t.is(parseSize('split', '700m'), 700 * 2 ** 20);
  t.is(parseSize('split', '4GiB'), 4 * 2 ** 30);
  t.is(parseSize('split', '1.5T'), 1.5 * 2 ** 40);
  t.is(parseSize('split', '512K'), 512 * 1024);
  t.is(parseSize('split', '12345'), 12345);
  for (const bad of ['', 'G', '4Q', '-4G', '4 G B', '0', '1e3']) t.throws(() => parseSize('split', bad), { instanceOf: UsageError }, bad);
});

test('levels, threads, partitions, chunk sizes and hashes are checked', (t) => {
  t.is(parseInteger('level', '19', 1, 19), 19);
  for (const bad of ['0', '20', '3.5', 'x', '-1']) t.throws(() => parseInteger('level', bad, 1, 19), { instanceOf: UsageError, message: /level .* is not a whole number from 1 to 19/ });
  t.deepEqual(parsePartitions('1,3,3'), [1, 3]);
  t.throws(() => parsePartitions('1,,3'), { instanceOf: UsageError });
  t.is(parseChunkSize('2M'), 2 << 20);
  t.is(parseChunkSize('4194304'), 4 << 20);
  t.throws(() => parseChunkSize('3M'), { message: /1M, 2M or 4M/ });
  t.deepEqual(parseHashes('md5,SHA1,sha256'), ['md5', 'sha1']);
  t.deepEqual(parseHashes('sha-1'), ['sha1']);
  t.throws(() => parseHashes('crc32'), { message: /"crc32" is not one of md5, sha1/ });
});
