/**
 * Windows registry hives (regf): `openHive(bytes, name)` checks the base block and
 * decodes keys and values on demand, each keeping its cell offset; `openHiveForEdit` → `HiveEditor`
 * patches values, adds values and keys, and refuses dirty hives (`HiveDirtyError`).
 * Format notes: docs/formats/registry.md.
 */
export { openHive, Hive, Key, Value, REG, regTypeName, MAX_KEY_DEPTH, type ValueStorage } from './hive.ts';
export { decodeBaseBlock, regfChecksum, filetimeToDate, RegfBaseBlock, HIVE_BINS_START, type BaseBlockInfo } from './base-block.ts';
export { HiveBins, HbinHeader, NO_CELL, type Cell } from './cells.ts';
export { KeyNode, KeyValue, BigData, IndexHeader, SecurityKey, KEY_FLAGS, BIG_DATA_SEGMENT, lhHash, upcaseName } from './records.ts';
export { openHiveForEdit, setValueData, HiveEditor, MAX_WRITABLE_DATA, type EditOptions } from './hive-writer.ts';
export { HiveDirtyError, type HiveLogs } from './dirty.ts';
export { replayTransactionLogs, marvin32, LogEntryHeader, LOG_MARVIN_SEED, type ReplayResult } from './log-replay.ts';
export { CellSpace, type ByteRange } from './cell-space.ts';
