/** The restore's own refusal: raised before anything is written to the target. */
import { LifeboatError, type ErrorData } from '../errors.ts';

export class RestoreRefusedError extends LifeboatError {
  constructor(message: string, data: ErrorData = {}) {
    super('RESTORE_REFUSED', message, data);
  }
}
