/**
 * Typed errors of the engine. Each has a stable `code` and plain data naming the object and the
 * offset it concerns, so it can cross a worker-thread boundary (structured clone keeps own
 * enumerable fields) and front ends can print or serialise it without parsing messages.
 */

export type ErrorData = Record<string, string | number | boolean | undefined>;

export class LifeboatError extends Error {
  readonly code: string;
  readonly data: ErrorData;

  constructor(code: string, message: string, data: ErrorData = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.data = data;
  }

  toJSON(): { name: string; code: string; message: string; data: ErrorData } {
    return { name: this.name, code: this.code, message: this.message, data: this.data };
  }
}

/** An on-disk structure failed validation: `structure` names it, `offset` is its byte position. */
export class CorruptStructureError extends LifeboatError {
  constructor(structure: string, offset: number, problem: string, data: ErrorData = {}) {
    super('CORRUPT_STRUCTURE', `${structure} at byte ${offset}: ${problem}`, { structure, offset, ...data });
  }
}

/** A read or write that fell outside the device or buffer it addressed. */
export class OutOfRangeError extends LifeboatError {
  constructor(what: string, offset: number, length: number, size: number) {
    super('OUT_OF_RANGE', `${what}: ${length} bytes at byte ${offset} go past its end (${size} bytes)`,
      { what, offset, length, size });
  }
}

/** The operating system refused an I/O request; `cause` holds its error. */
export class DeviceIoError extends LifeboatError {
  constructor(device: string, operation: 'open' | 'read' | 'write' | 'flush' | 'close', offset: number, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super('DEVICE_IO', `${operation} of ${device} at byte ${offset} failed: ${reason}`,
      { device, operation, offset, reason });
    this.cause = cause;
  }
}

/** A caller asked for something the engine does not support or that contradicts itself. */
export class UsageError extends LifeboatError {
  constructor(message: string, data: ErrorData = {}) {
    super('USAGE', message, data);
  }
}

/** A path or object that does not exist on the volume or in the image. */
export class NotFoundError extends LifeboatError {
  constructor(what: string, where: string) {
    super('NOT_FOUND', `${what} not found on ${where}`, { what, where });
  }
}

/** A typed error as plain data, to cross a worker-thread boundary. */
export interface WireError {
  name: string;
  code: string;
  message: string;
  data: ErrorData;
}

export function toWire(e: unknown): WireError {
  if (e instanceof LifeboatError) return { name: e.name, code: e.code, message: e.message, data: e.data };
  return { name: 'Error', code: 'INTERNAL', message: e instanceof Error ? (e.stack ?? e.message) : String(e), data: {} };
}

/** Rebuild a wire error on this side: same class name, code, message and data. */
export function fromWire(w: WireError): LifeboatError {
  const e = new LifeboatError(w.code, w.message, w.data);
  Object.defineProperty(e, 'name', { value: w.name });
  return e;
}
