/**
 * The three copies of the MBR boot code cannot drift: mbr.asm assembled now (NASM) must equal
 * the committed mbr.bin and the engine's LIFEBOAT_MBR_CODE, and fit the 440-byte code area.
 * After editing mbr.asm, `node native/boot/build.ts` refreshes both copies.
 */
import test from 'ava';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { scratchDir } from '../../test/helpers/tools.ts';
import { LIFEBOAT_MBR_CODE } from '../../src/boot/mbr-code.ts';
import { assemble, MBR_ASM, MBR_BIN, MBR_CODE_MAX, MBR_CODE_TS, mbrCodeModule } from './build.ts';

const scratch = scratchDir('lifeboat-mbr-');
test.after.always(() => scratch.remove());

const REFRESH = 'run `node native/boot/build.ts` after editing mbr.asm';

test('mbr.asm assembles to the committed mbr.bin, byte for byte', (t) => {
  const built = assemble(MBR_ASM, join(scratch.dir, 'mbr.bin'));
  t.true(built.equals(readFileSync(MBR_BIN)), `native/boot/mbr.bin is stale: ${REFRESH}`);
});

test('src/boot/mbr-code.ts holds the same bytes and is what build.ts generates', (t) => {
  const built = assemble(MBR_ASM, join(scratch.dir, 'mbr-2.bin'));
  t.true(Buffer.from(LIFEBOAT_MBR_CODE).equals(built), `LIFEBOAT_MBR_CODE is stale: ${REFRESH}`);
  t.is(readFileSync(MBR_CODE_TS, 'utf8'), mbrCodeModule(built), `src/boot/mbr-code.ts was edited by hand or is stale: ${REFRESH}`);
});

test('the code fits the MBR code area (bytes 0-439), leaving signature, table and 55 AA alone', (t) => {
  t.true(LIFEBOAT_MBR_CODE.length > 0);
  t.true(LIFEBOAT_MBR_CODE.length <= MBR_CODE_MAX, `${LIFEBOAT_MBR_CODE.length} bytes`);
  t.log(`${LIFEBOAT_MBR_CODE.length} of ${MBR_CODE_MAX} bytes`);
});

test('the code carries its four messages (what a user sees is what docs/boot-code.md lists)', (t) => {
  const text = Buffer.from(LIFEBOAT_MBR_CODE).toString('latin1');
  for (const m of ['Lifeboat MBR: ', 'no active partition', 'invalid partition table', 'error reading the boot sector', 'boot sector missing (no 55AA)']) {
    t.true(text.includes(`${m}\0`), m);
  }
});

test('NASM refuses a source past 440 bytes (the %error guard works)', (t) => {
  const src = readFileSync(MBR_ASM, 'utf8').replace(/^drive:.*$/m, (line) => `${line}\n        times 64 db 0`);
  const file = join(scratch.dir, 'too-long.asm');
  writeFileSync(file, src);
  t.throws(() => assemble(file, join(scratch.dir, 'too-long.bin')), { message: /longer than 440 bytes/ });
});

