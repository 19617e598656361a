import test from 'ava';
import { ascii, bytes, guid, layout, u16le, u32le, u64le, u8, utf16le } from './layout.ts';
import { formatGuid, parseGuid } from './guid.ts';
import { CorruptStructureError } from '../errors.ts';

const Sample = layout('Sample', 48, {
  kind: u8(0x00),
  count: u16le(0x02),
  offset: u32le(0x04),
  big: u64le(0x08),
  id: guid(0x10),
  tag: ascii(0x20, 4),
  name: utf16le(0x24, 8),
  tail: bytes(0x2c, 4),
});

test('decode and encode are inverse, little-endian at the declared offsets', (t) => {
  const value = {
    kind: 0x80, count: 0x1234, offset: 0xdeadbeef, big: 0x0102030405060708n,
    id: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', tag: 'NTFS', name: 'EFI', tail: Uint8Array.of(1, 2, 3, 4),
  };
  const buf = Sample.encode(value);
  t.is(buf[0x02], 0x34);
  t.is(buf[0x03], 0x12);
  t.deepEqual([...buf.subarray(0x10, 0x14)], [0x28, 0x73, 0x2a, 0xc1]); // GUID's first group stored little-endian
  t.deepEqual(Sample.decode(buf), value);
});

test('decoding past the end of the buffer is a typed error naming the structure', (t) => {
  const err = t.throws(() => Sample.decode(new Uint8Array(40)), { instanceOf: CorruptStructureError });
  t.regex(err!.message, /Sample at byte 0: needs 48 bytes, only 40 available/);
  t.throws(() => Sample.decode(new Uint8Array(100), 60), { instanceOf: CorruptStructureError });
});

test('a field outside the declared size is refused when the layout is declared', (t) => {
  t.throws(() => layout('Bad', 4, { x: u32le(2) }), { message: /Bad.x/ });
});

test('GUID text and mixed-endian bytes round-trip, matching the reference example', (t) => {
  const text = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';
  t.is(Buffer.from(parseGuid(text)).toString('hex'), '28732ac11ff8d211ba4b00a0c93ec93b');
  t.is(formatGuid(parseGuid(`{${text.toUpperCase()}}`)), text);
  t.throws(() => parseGuid('not-a-guid'));
});

test('dump lists fields with their offsets', (t) => {
  t.regex(Sample.dump(new Uint8Array(48)), /^0x000 kind = 0\n0x002 count = 0/);
});
