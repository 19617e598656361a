/**
 * Why `writeFatFile` refused to write. Every refusal happens before the first write, so the
 * volume is untouched; `reason` says which rule, the data name the path and the volume.
 */
import { LifeboatError, type ErrorData } from '../../errors.ts';

export type FatWriteRefusal =
  | 'read-only' // the device was opened without write access
  | 'invalid-name' // a path component is not a valid FAT long name
  | 'not-a-directory' // a parent component is a file
  | 'is-a-directory' // the target exists as a directory
  | 'too-large' // the data is 4 GiB or more (DIR_FileSize is 32 bits)
  | 'no-space' // fewer free clusters than the write needs
  | 'fats-disagree' // the FAT copies differ in an entry the write would change
  | 'root-full' // the fixed FAT12/16 root directory has no room for the entries
  | 'directory-full'; // a directory would pass 65536 entries

export class FatWriteRefusedError extends LifeboatError {
  readonly reason: FatWriteRefusal;

  constructor(reason: FatWriteRefusal, message: string, data: ErrorData & { path: string; volume: string }) {
    super('FAT_WRITE_REFUSED', message, { reason, ...data });
    this.reason = reason;
  }
}

/** The file did not read back as written (STYLE #7): the volume must be checked with fsck.fat. */
export class FatWriteVerifyError extends LifeboatError {
  constructor(message: string, data: ErrorData & { path: string; volume: string }) {
    super('FAT_WRITE_VERIFY', message, data);
  }
}
