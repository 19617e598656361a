/**
 * Inserting a new key into its parent's subkey index (boot-and-bcd.md 5.4; [MSR] "Index leaf"
 * … "Index root"): leaves stay sorted by upper-cased name compared one UTF-16 code unit at a
 * time; lh elements carry `lhHash`, lf elements a 4-character ASCII hint; under an ri the new
 * name goes to the first leaf whose last name sorts after it (else the last leaf). A leaf with
 * room is rewritten in place from the insertion point on; a full one moves to a new cell and the
 * ri (or the parent nk) is repointed. Leaves are never split.
 */
import { CorruptStructureError, UsageError } from '../errors.ts';
import { HIVE_BINS_START } from './base-block.ts';
import type { CellSpace } from './cell-space.ts';
import type { HiveBins } from './cells.ts';
import type { Hive, Key } from './hive.ts';
import { IndexHeader, INDEX_ELEMENTS_OFFSET, lhHash, upcaseName } from './records.ts';

/** Most elements one subkey index leaf holds (its count is a u16). */
const MAX_LEAF_ELEMENTS = 0xffff;
const sig = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** Windows' order of subkeys: upper-cased names compared one UTF-16 code unit at a time. */
export const compareNames = (a: string, b: string): number => {
  const x = upcaseName(a);
  const y = upcaseName(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * Put the nk at `nk` (named `name`) into `parent`'s index. `siblings` are the parent's subkey
 * names in index order, read before any write; `listOffsetField` is the file offset of the
 * parent nk's subkeys list offset field.
 */
export function insertSubkey(s: CellSpace, hive: Hive, parent: Key, siblings: string[], nk: number, name: string,
  listOffsetField: number): void {
  const bins = hive.bins;
  if (parent.node.numberOfSubkeys === 0) {
    const kind = hive.minorVersion >= 5 ? 'lh' : 'lf';
    const leaf = s.allocate(INDEX_ELEMENTS_OFFSET + 8);
    s.write(HIVE_BINS_START + leaf + 4, leafBytes(kind, [{ nk, name }], 8));
    s.setU32(listOffsetField, leaf);
    return;
  }
  const top = parent.node.subkeysListOffset;
  const topKind = indexKind(bins, top);
  // Leaves to choose from: the list itself, or the ri's leaves with how many subkeys each holds.
  let leafOffset = top;
  let riSlot: number | undefined;
  let before = 0; // subkeys in earlier leaves
  if (topKind === 'ri') {
    const ri = bins.cell(top, 'subkeys list', IndexHeader.size);
    const n = IndexHeader.decode(ri.data).numberOfElements;
    const view = new DataView(ri.data.buffer, ri.data.byteOffset, ri.data.length);
    for (let i = 0; i < n; i++) {
      const leaf = view.getUint32(INDEX_ELEMENTS_OFFSET + i * 4, true);
      const size = IndexHeader.decode(bins.cell(leaf, 'subkeys list', IndexHeader.size).data).numberOfElements;
      leafOffset = leaf;
      riSlot = i;
      // The new name belongs in this leaf if it sorts before this leaf's last name, or this is the last leaf.
      if (i === n - 1 || (size > 0 && compareNames(name, siblings[before + size - 1]!) < 0)) break;
      before += size;
    }
  }
  const kind = indexKind(bins, leafOffset);
  if (kind === 'ri') throw new CorruptStructureError('subkeys list', HIVE_BINS_START + leafOffset, 'an ri list inside an ri list', { cellOffset: leafOffset });
  const leafCell = bins.cell(leafOffset, 'subkeys list', IndexHeader.size);
  const count = IndexHeader.decode(leafCell.data).numberOfElements;
  if (count >= MAX_LEAF_ELEMENTS) throw new UsageError(`the subkey index leaf at ${leafOffset} is full (${count} elements); splitting leaves is not implemented`);
  const step = kind === 'li' ? 4 : 8;
  const view = new DataView(leafCell.data.buffer, leafCell.data.byteOffset, leafCell.data.length);
  const elements: Array<{ nk: number; name: string }> = [];
  for (let i = 0; i < count; i++) elements.push({ nk: view.getUint32(INDEX_ELEMENTS_OFFSET + i * step, true), name: siblings[before + i]! });
  let at = elements.findIndex((e) => compareNames(name, e.name) < 0);
  if (at < 0) at = elements.length;
  elements.splice(at, 0, { nk, name });
  const capacity = Math.floor((leafCell.data.length - INDEX_ELEMENTS_OFFSET) / step);
  const bytes = leafBytes(kind, elements, step);
  if (elements.length <= capacity) {
    // Rewrite from the inserted element on; the elements before it keep their bytes.
    const from = INDEX_ELEMENTS_OFFSET + at * step;
    s.write(HIVE_BINS_START + leafOffset + 4 + 2, bytes.subarray(2, 4));
    s.write(HIVE_BINS_START + leafOffset + 4 + from, bytes.subarray(from));
    return;
  }
  const moved = s.allocate(bytes.length);
  s.write(HIVE_BINS_START + moved + 4, bytes);
  if (riSlot === undefined) s.setU32(listOffsetField, moved);
  else s.setU32(HIVE_BINS_START + top + 4 + INDEX_ELEMENTS_OFFSET + riSlot * 4, moved);
  s.free(leafOffset);
}

function indexKind(bins: HiveBins, offset: number): 'li' | 'lf' | 'lh' | 'ri' {
  const cell = bins.cell(offset, 'subkeys list', IndexHeader.size);
  const kind = String.fromCharCode(cell.data[0]!, cell.data[1]!);
  if (kind !== 'li' && kind !== 'lf' && kind !== 'lh' && kind !== 'ri') {
    throw new CorruptStructureError('subkeys list', HIVE_BINS_START + offset, `signature is ${JSON.stringify(kind)}, not li, lf, lh or ri`, { cellOffset: offset });
  }
  return kind;
}

/** A whole leaf record: header and elements (lh: name hash; lf: first 4 characters as bytes, zero-padded). */
function leafBytes(kind: 'li' | 'lf' | 'lh', elements: Array<{ nk: number; name: string }>, step: number): Uint8Array {
  const out = new Uint8Array(INDEX_ELEMENTS_OFFSET + elements.length * step);
  IndexHeader.encodeInto({ signature: sig(kind), numberOfElements: elements.length }, out);
  const v = new DataView(out.buffer);
  elements.forEach((e, i) => {
    const at = INDEX_ELEMENTS_OFFSET + i * step;
    v.setUint32(at, e.nk, true);
    if (kind === 'lh') v.setUint32(at + 4, lhHash(e.name), true);
    if (kind === 'lf') {
      // [MSR]: the first 4 characters as ASCII when they can be; otherwise the hint starts with a null.
      const hint = e.name.slice(0, 4);
      if ([...hint].every((c) => c.charCodeAt(0) < 0x80)) for (let j = 0; j < hint.length; j++) out[at + 4 + j] = hint.charCodeAt(j);
    }
  });
  return out;
}
