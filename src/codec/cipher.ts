/**
 * Chunk encryption: AES-256-GCM with a key from scrypt (DESIGN.md, Runtime and build). Each
 * payload is nonce ‖ ciphertext ‖ tag; the caller's associated data binds it to its place.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { LifeboatError } from '../errors.ts';

export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const KEY_BYTES = 32;

export interface KdfParams {
  log2N: number;
  r: number;
  p: number;
  salt: Uint8Array;
}

/** 2^15 × 8 × 1: about 32 MiB and a tenth of a second, OWASP's scrypt floor. */
export const DEFAULT_KDF: Omit<KdfParams, 'salt'> = { log2N: 15, r: 8, p: 1 };

/** The passphrase was wrong, or the image was encrypted with another one. */
export class WrongPassphraseError extends LifeboatError {
  constructor() {
    super('WRONG_PASSPHRASE', 'the passphrase does not open this image');
  }
}

/** The image is encrypted and no passphrase was given: the front end should ask for one. */
export class PassphraseNeededError extends LifeboatError {
  constructor(path: string) {
    super('PASSPHRASE_NEEDED', `${path} is encrypted: a passphrase is needed`, { path });
  }
}

export function deriveKey(passphrase: string, params: KdfParams): Uint8Array {
  const N = 2 ** params.log2N;
  return scryptSync(passphrase.normalize('NFC'), params.salt, KEY_BYTES, { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + (1 << 20) });
}

export function newSalt(): Uint8Array {
  return randomBytes(32);
}

export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, nonce: Uint8Array = randomBytes(NONCE_BYTES)): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** Decrypt and authenticate; returns null when the tag does not match (tampering or wrong key). */
export function open(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) return null;
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return null; // GCM reports only "unable to authenticate": the caller says what it means
  }
}

/** The header's key check: GCM of 16 zero bytes, so a wrong passphrase fails before any data. */
export function keyCheck(key: Uint8Array, nonce: Uint8Array): Uint8Array {
  return seal(key, new Uint8Array(16), new Uint8Array(0), nonce).subarray(NONCE_BYTES);
}

export function verifyKeyCheck(key: Uint8Array, nonce: Uint8Array, check: Uint8Array): boolean {
  const expected = keyCheck(key, nonce);
  return expected.length === check.length && timingSafeEqual(expected, check);
}
