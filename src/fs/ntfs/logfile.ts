/**
 * Is the `$LogFile` journal clean? (filesystems.md 2.9, the check ntfs-3g makes before writing.)
 * A volume whose journal still holds transactions must not have its metadata changed offline:
 * Windows would replay the log over our changes. The restart pages sit at offset 0 and at one
 * system page size; the newer one (higher LSN) counts. An all-0xFF log is an emptied one, as
 * mkntfs and ntfs-3g leave it.
 */
import { ascii, layout, u16le, u32le, u64le } from '../../binary/layout.ts';
import { CorruptStructureError } from '../../errors.ts';
import { applyFixups } from './fixup.ts';

export const RestartPageHeader = layout('RestartPageHeader', 0x1e, {
  magic: ascii(0x00, 4), // "RSTR", or "CHKD" after chkdsk
  usaOffset: u16le(0x04),
  usaCount: u16le(0x06),
  chkdskLsn: u64le(0x08),
  systemPageSize: u32le(0x10),
  logPageSize: u32le(0x14),
  restartAreaOffset: u16le(0x18),
  minorVersion: u16le(0x1a), // versions seen: 1.1, and 2.0 (Windows 8+ Fast Startup)
  majorVersion: u16le(0x1c),
});

export const RestartArea = layout('RestartArea', 0x10, {
  currentLsn: u64le(0x00),
  logClients: u16le(0x08),
  clientFreeList: u16le(0x0a),
  clientInUseList: u16le(0x0c), // 0xffff = no client
  flags: u16le(0x0e), // 0x0002 = volume is clean
});

const NO_CLIENT = 0xffff;
const RESTART_VOLUME_IS_CLEAN = 0x0002;
/** Bytes that must all be 0xFF for the log to count as emptied. */
const EMPTY_PROBE = 4096;

export type LogFileState =
  | { clean: true; state: 'empty' }
  | { clean: true; state: 'clean'; version: string }
  | { clean: false; state: 'unclean' | 'fast-startup' | 'unrecognised'; version?: string; reason: string };

interface RestartPage {
  lsn: bigint;
  version: string;
  major: number;
  unclean: boolean;
}

/** Decode one restart page (its bytes are changed: fixups applied); null if it is not one. */
function decodeRestartPage(page: Uint8Array, offset: number): RestartPage | null {
  const h = RestartPageHeader.decode(page);
  if (h.magic !== 'RSTR' && h.magic !== 'CHKD') return null;
  if (h.magic === 'RSTR' || h.usaCount !== 0) applyFixups(page, '$LogFile restart page', offset);
  const version = `${h.majorVersion}.${h.minorVersion}`;
  if (h.restartAreaOffset % 8 !== 0 || h.restartAreaOffset + RestartArea.size > page.length) {
    throw new CorruptStructureError('$LogFile restart page', offset, `restart area offset ${h.restartAreaOffset} is outside the page`);
  }
  const ra = RestartArea.decode(page, h.restartAreaOffset);
  if (h.magic === 'CHKD') return { lsn: h.chkdskLsn, version, major: h.majorVersion, unclean: false };
  const unclean = ra.clientInUseList !== NO_CLIENT && (ra.flags & RESTART_VOLUME_IS_CLEAN) === 0;
  return { lsn: ra.currentLsn, version, major: h.majorVersion, unclean };
}

/**
 * Judge the journal from its bytes: `read(offset, length)` reads the `$LogFile` stream
 * (`offset` is the stream's position on the volume, for messages).
 */
export async function logFileState(read: (position: number, length: number) => Promise<Uint8Array>, size: number, offset: number): Promise<LogFileState> {
  if (size < 2 * 512) return { clean: false, state: 'unrecognised', reason: `$LogFile is only ${size} bytes` };
  const probe = await read(0, Math.min(size, EMPTY_PROBE));
  if (probe.every((b) => b === 0xff)) return { clean: true, state: 'empty' };
  const first = RestartPageHeader.decode(probe);
  const pageSize = first.systemPageSize;
  if ((first.magic !== 'RSTR' && first.magic !== 'CHKD') || pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0 || 2 * pageSize > size) {
    return { clean: false, state: 'unrecognised', reason: '$LogFile starts with neither a restart page nor the 0xFF bytes of an emptied log' };
  }
  const pages: RestartPage[] = [];
  for (const at of [0, pageSize]) {
    const page = decodeRestartPage(await read(at, pageSize), offset + at);
    if (page) pages.push(page);
  }
  const current = pages.reduce((a, b) => (b.lsn > a.lsn ? b : a));
  if (current.major === 2) {
    return { clean: false, state: 'fast-startup', version: current.version,
      reason: `$LogFile restart page is version ${current.version}: Windows shut down with Fast Startup or hibernated and may still cache this volume's metadata` };
  }
  if (current.unclean) {
    return { clean: false, state: 'unclean', version: current.version,
      reason: '$LogFile holds transactions not yet applied: Windows was not shut down cleanly' };
  }
  return { clean: true, state: 'clean', version: current.version };
}
