/** What the fault tests expect of a push or write that fails: a PushError, returned to look at. */
import { expect } from 'vitest';
import { PushError } from '../../src/errors.js';

export async function refusal(run: () => Promise<unknown>): Promise<PushError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(PushError);
    return error as PushError;
  }
  throw new Error('expected a PushError');
}
