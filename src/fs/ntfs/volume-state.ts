/**
 * Whether an NTFS volume may have its metadata changed offline: the `$VOLUME_INFORMATION` of
 * `$Volume` (record 3: version and flags, filesystems.md 2.9) and the state of `$LogFile`.
 * ntfsresize refuses the same volumes: dirty, being checked, or with a journal to replay.
 */
import { layout, u16le, u8 } from '../../binary/layout.ts';
import { CorruptStructureError } from '../../errors.ts';
import { DataStream } from './data-stream.ts';
import { logFileState, type LogFileState } from './logfile.ts';
import type { Mft } from './mft.ts';
import { ATTR } from './record.ts';

export const VolumeInformation = layout('VolumeInformation', 0x0c, {
  majorVersion: u8(0x08),
  minorVersion: u8(0x09),
  flags: u16le(0x0a),
});

export const VOLUME_FLAGS = {
  isDirty: 0x0001,
  resizeLogFile: 0x0002,
  upgradeOnMount: 0x0004,
  mountedOnNt4: 0x0008,
  deleteUsnUnderway: 0x0010,
  repairObjectIds: 0x0020,
  chkdskUnderway: 0x4000,
  modifiedByChkdsk: 0x8000,
} as const;

/** Flags under which nothing may be changed until Windows' chkdsk has run. */
const REFUSED_FLAGS: Array<[number, string]> = [
  [VOLUME_FLAGS.isDirty, 'the volume is marked dirty (VOLUME_IS_DIRTY): run chkdsk /f on Windows first'],
  [VOLUME_FLAGS.chkdskUnderway, 'chkdsk was interrupted on this volume (CHKDSK_UNDERWAY): run chkdsk /f on Windows first'],
  [VOLUME_FLAGS.resizeLogFile, 'the volume asks for its $LogFile to be resized (RESIZE_LOG_FILE): mount it in Windows first'],
];

const SUPPORTED_VERSIONS = ['1.2', '3.0', '3.1'];
const LOG_FILE_RECORD = 2;
const VOLUME_RECORD = 3;

export interface VolumeState {
  version: string;
  flags: number;
  log: LogFileState;
  /** Why the volume may not be changed offline, empty when it may. */
  refusals: string[];
}

export async function readVolumeState(mft: Mft): Promise<VolumeState> {
  const volumeFile = await mft.file(VOLUME_RECORD);
  const info = volumeFile.attributes.find((a) => a.type === ATTR.volumeInformation);
  if (!info?.resident || info.value.length < VolumeInformation.size) {
    throw new CorruptStructureError('$Volume', mft.recordOffset(VOLUME_RECORD), 'has no resident $VOLUME_INFORMATION of 12 bytes');
  }
  const vi = VolumeInformation.decode(info.value);
  const version = `${vi.majorVersion}.${vi.minorVersion}`;
  const refusals: string[] = [];
  if (!SUPPORTED_VERSIONS.includes(version)) refusals.push(`NTFS version ${version} is not one of ${SUPPORTED_VERSIONS.join(', ')}`);
  for (const [flag, why] of REFUSED_FLAGS) if (vi.flags & flag) refusals.push(why);

  const logFile = await mft.file(LOG_FILE_RECORD);
  const stream = mft.openStream(logFile, ATTR.data, '');
  let log: LogFileState;
  if (stream instanceof DataStream) {
    log = await logFileState((p, n) => stream.read(p, n), stream.size, mft.recordOffset(LOG_FILE_RECORD));
  } else {
    log = { clean: false, state: 'unrecognised', reason: '$LogFile has no non-resident $DATA' };
  }
  if (!log.clean) refusals.push(log.reason);
  return { version, flags: vi.flags, log, refusals };
}
