import type { Collector } from '../types.js';
import { userTables } from './user_tables.js';

/** Business metrics: add one line per collector file in this folder. */
export const BUSINESS_COLLECTORS: readonly Collector[] = [userTables];
