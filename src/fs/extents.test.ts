import test from 'ava';
import { ExtentList } from './extents.ts';

const L = (...pairs: Array<[number, number]>) => ExtentList.of(pairs.map(([start, length]) => ({ start, length })));

test('of() sorts, merges overlapping and adjacent ranges, drops empty ones', (t) => {
  t.deepEqual(L([10, 5], [0, 5], [5, 2], [12, 10], [40, 0]).toJSON(), [[0, 7], [10, 12]]);
  t.is(L([0, 5], [5, 5]).count, 1);
});

test('union, subtract and intersect', (t) => {
  const a = L([0, 100], [200, 100]);
  const b = L([50, 200], [400, 10]);
  t.deepEqual(a.union(b).toJSON(), [[0, 300], [400, 10]]);
  t.deepEqual(a.subtract(b).toJSON(), [[0, 50], [250, 50]]);
  t.deepEqual(b.subtract(a).toJSON(), [[100, 100], [400, 10]]);
  t.deepEqual(a.intersect(b).toJSON(), [[50, 50], [200, 50]]);
  t.deepEqual(a.subtract(L([0, 1000])).toJSON(), []);
  t.deepEqual(a.subtract(ExtentList.empty).toJSON(), a.toJSON());
  t.deepEqual(L([0, 10]).subtract(L([2, 2], [5, 1], [9, 5])).toJSON(), [[0, 2], [4, 1], [6, 3]]);
});

test('bytes, contains, clip and shift', (t) => {
  const a = L([0, 100], [200, 100]);
  t.is(a.bytes, 200);
  t.true(a.contains(0));
  t.true(a.contains(299));
  t.false(a.contains(100));
  t.false(a.contains(300));
  t.deepEqual(a.clip(250).toJSON(), [[0, 100], [200, 50]]);
  t.deepEqual(a.shift(1000).toJSON(), [[1000, 100], [1200, 100]]);
});

test('the builder merges ascending appends and falls back to sorting', (t) => {
  const b = ExtentList.builder();
  b.add(0, 10);
  b.add(10, 10);
  b.add(30, 5);
  t.deepEqual(b.build().toJSON(), [[0, 20], [30, 5]]);
  const c = ExtentList.builder();
  c.add(30, 5);
  c.add(0, 10);
  c.add(5, 10);
  t.deepEqual(c.build().toJSON(), [[0, 15], [30, 5]]);
});

test('subtract agrees with a per-byte model on random lists', (t) => {
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  for (let round = 0; round < 200; round++) {
    const make = () => L(...Array.from({ length: rand(6) }, () => [rand(100), rand(20)] as [number, number]));
    const a = make();
    const b = make();
    const model = (x: number) => a.contains(x) && !b.contains(x);
    const got = a.subtract(b);
    for (let x = 0; x < 130; x++) t.is(got.contains(x), model(x));
    t.deepEqual(a.union(b).bytes, Array.from({ length: 130 }, (_, x) => a.contains(x) || b.contains(x)).filter(Boolean).length);
  }
});
