import { BUSINESS_COLLECTORS } from './business/index.js';
import { GENERAL_COLLECTORS } from './general/index.js';
import type { Collector } from './types.js';

/** Every collector a run executes, in order. */
export const COLLECTORS: readonly Collector[] = [...GENERAL_COLLECTORS, ...BUSINESS_COLLECTORS];
