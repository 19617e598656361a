/**
 * Windows registry hives (regf), read-only: `openHive(bytes, name)` checks the base block and
 * decodes keys and values on demand, each keeping its cell offset for a later in-place writer.
 * Format notes: docs/formats/registry.md.
 */
export { openHive, Hive, Key, Value, REG, regTypeName, MAX_KEY_DEPTH, type ValueStorage } from './hive.ts';
export { decodeBaseBlock, regfChecksum, filetimeToDate, RegfBaseBlock, HIVE_BINS_START, type BaseBlockInfo } from './base-block.ts';
export { HiveBins, HbinHeader, NO_CELL, type Cell } from './cells.ts';
export { KeyNode, KeyValue, BigData, IndexHeader, KEY_FLAGS, BIG_DATA_SEGMENT, lhHash, upcaseName } from './records.ts';
