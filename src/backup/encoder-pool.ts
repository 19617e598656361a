/**
 * A fixed pool of worker threads encoding chunk records. `encode` resolves in any order; the
 * caller keeps at most `capacity` jobs in flight, which bounds memory whatever the disk size.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { LifeboatError } from '../errors.ts';
import type { RecordInput } from '../image/record.ts';

interface Job {
  resolve(record: Uint8Array): void;
  reject(error: Error): void;
}

export class EncoderPool {
  readonly #workers: Worker[] = [];
  readonly #idle: Worker[] = [];
  readonly #queue: Array<{ id: number; input: RecordInput }> = [];
  readonly #jobs = new Map<number, Job>();
  #nextId = 0;
  #broken: Error | undefined;

  constructor(options: { threads?: number; codec?: 'node' | 'zstd-codec' } = {}) {
    const threads = Math.max(1, options.threads ?? availableParallelism());
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(new URL('../image/record-worker.ts', import.meta.url), { workerData: { codec: options.codec ?? 'node' } });
      worker.on('message', (msg: { id: number; record?: Uint8Array; error?: string }) => {
        const job = this.#jobs.get(msg.id)!;
        this.#jobs.delete(msg.id);
        if (msg.record) job.resolve(msg.record);
        else job.reject(new LifeboatError('ENCODE_FAILED', `encoding a chunk failed: ${msg.error}`));
        this.#idle.push(worker);
        this.#pump();
      });
      worker.on('error', (e) => this.#fail(e));
      this.#workers.push(worker);
      this.#idle.push(worker);
    }
  }

  /** How many jobs may be outstanding: two per thread keeps every thread busy. */
  get capacity(): number {
    return this.#workers.length * 2;
  }

  encode(input: RecordInput): Promise<Uint8Array> {
    if (this.#broken) return Promise.reject(this.#broken);
    const id = this.#nextId++;
    const done = new Promise<Uint8Array>((resolve, reject) => this.#jobs.set(id, { resolve, reject }));
    this.#queue.push({ id, input });
    this.#pump();
    return done;
  }

  #pump(): void {
    while (this.#idle.length > 0 && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      // The chunk's buffer moves to the worker: the reader hands over a fresh buffer per chunk.
      this.#idle.pop()!.postMessage(job, [job.input.data.buffer as ArrayBuffer]);
    }
  }

  #fail(e: Error): void {
    this.#broken = e;
    for (const job of this.#jobs.values()) job.reject(e);
    this.#jobs.clear();
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
