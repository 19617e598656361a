import test from 'ava';
import { logFileState, RestartArea, RestartPageHeader } from './logfile.ts';
import { encodeFixups } from './record-write.ts';

interface Page { magic?: string; major?: number; minor?: number; inUse?: number; flags?: number; lsn?: bigint; chkdskLsn?: bigint }

/** A restart page as Windows writes it: header, restart area at 0x30, update sequence array. */
function page(o: Page = {}): Uint8Array {
  const p = new Uint8Array(4096);
  RestartPageHeader.encodeInto({ magic: o.magic ?? 'RSTR', usaOffset: 0x1e, usaCount: 9, chkdskLsn: o.chkdskLsn ?? 0n, systemPageSize: 4096,
    logPageSize: 4096, restartAreaOffset: 0x30, minorVersion: o.minor ?? 1, majorVersion: o.major ?? 1 }, p);
  RestartArea.encodeInto({ currentLsn: o.lsn ?? 100n, logClients: 1, clientFreeList: 0xffff, clientInUseList: o.inUse ?? 0xffff, flags: o.flags ?? 0 }, p, 0x30);
  return encodeFixups(p, 'restart page', 0);
}

function log(...pages: Uint8Array[]): { read: (p: number, n: number) => Promise<Uint8Array>; size: number } {
  const bytes = new Uint8Array(65536).fill(0xff);
  pages.forEach((p, i) => bytes.set(p, i * 4096));
  return { read: async (p, n) => bytes.slice(p, p + n), size: bytes.length };
}

const state = (l: ReturnType<typeof log>) => logFileState(l.read, l.size, 0);

test('an emptied log (all 0xFF, as mkntfs and ntfs-3g leave it) is clean', async (t) => {
  t.like(await state(log()), { clean: true, state: 'empty' });
});

test('version 1.1 restart pages: clean flag or no client in use is clean, otherwise not', async (t) => {
  t.like(await state(log(page({ inUse: 0, flags: 2 }), page({ inUse: 0, flags: 2 }))), { clean: true, state: 'clean', version: '1.1' });
  t.like(await state(log(page({ inUse: 0xffff, flags: 0 }))), { clean: true, state: 'clean' });
  t.like(await state(log(page({ inUse: 0, flags: 0 }))), { clean: false, state: 'unclean' });
});

test('the newer of the two restart pages decides', async (t) => {
  t.like(await state(log(page({ inUse: 0, flags: 0, lsn: 5n }), page({ inUse: 0, flags: 2, lsn: 9n }))), { clean: true });
  t.like(await state(log(page({ inUse: 0, flags: 2, lsn: 9n }), page({ inUse: 0, flags: 0, lsn: 10n }))), { clean: false, state: 'unclean' });
});

test('restart page 2.0 (Fast Startup) is refused even when marked clean', async (t) => {
  t.like(await state(log(page({ major: 2, minor: 0, inUse: 0, flags: 2 }))), { clean: false, state: 'fast-startup', version: '2.0' });
});

test('a page chkdsk rewrote (CHKD) counts as clean', async (t) => {
  t.like(await state(log(page({ magic: 'CHKD', inUse: 0, flags: 0, chkdskLsn: 50n }))), { clean: true });
});

test('anything else is not recognised, and a torn restart page is corrupt', async (t) => {
  const garbage = new Uint8Array(4096).fill(0x41);
  t.like(await state(log(garbage)), { clean: false, state: 'unrecognised' });
  const torn = page({ inUse: 0, flags: 2 });
  torn[1022] = torn[1022]! ^ 0xff; // the end of the second stride no longer carries the update sequence number
  await t.throwsAsync(state(log(torn)), { code: 'CORRUPT_STRUCTURE', message: /torn write/ });
  t.like(await logFileState(log().read, 512, 0), { clean: false, state: 'unrecognised' });
});
