/**
 * One listGroups in a process of its own (bench/pushgateway-groups.mts runs it
 * under Lambda's 128 MB heap flags): prints one JSON line with the time, the
 * groups found and the process's peak RSS. `--baseline` only loads the module,
 * for the RSS of the process without a listing.
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { listGroups } from '../src/pushgateway.js';

const [url] = process.argv.slice(2);
let result: Record<string, unknown> = {};
if (url !== undefined && url !== '--baseline') {
  const started = performance.now();
  const groups = await listGroups({ url: new URL(url), timeoutMs: 60_000 });
  result = { ms: performance.now() - started, groups: groups.length };
}
// VmHWM, not resourceUsage().maxRSS: Linux carries ru_maxrss over fork and exec, so a
// child would report its parent's peak when that is higher.
const status = fs.readFileSync('/proc/self/status', 'utf8');
console.log(JSON.stringify({ ...result, maxRssKb: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]) }));
