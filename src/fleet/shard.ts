/**
 * Which Pushgateway a fleet's target pushes to, when the fleet is spread
 * over several (one Pushgateway takes a few hundred groups a minute with
 * its consistency check on: README, sizing). Rendezvous (highest random
 * weight) hashing: each target goes to the URL with the highest
 * sha256(url + name), so a target's group never moves while its Pushgateway
 * stays in the list, whatever the list's order; adding an n+1-th moves only
 * the ~1/(n+1) of targets it wins, removing one moves only its own targets.
 * No state, nothing to coordinate between the scheduled and the per-target
 * function: both compute the same answer.
 */
import { createHash } from 'node:crypto';
import { ExporterError } from '../errors.js';

/**
 * Which Pushgateway a URL is: scheme, host, port and path without trailing
 * slashes, and never its credentials, so a changed password or a trailing
 * slash never moves a target (config.ts refuses two URLs of one identity).
 */
function identity(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/** The weight of `name` on `url`. */
function weight(url: URL, name: string): Buffer {
  return createHash('sha256').update(identity(url)).update('\n').update(name).digest();
}

/** The Pushgateway of the target `name`: the highest weight; the first of equal URLs. */
export function assignPushgateway(name: string, urls: readonly URL[]): URL {
  let best: URL | undefined;
  let bestWeight: Buffer | undefined;
  for (const url of urls) {
    const w = weight(url, name);
    if (bestWeight === undefined || Buffer.compare(w, bestWeight) > 0) {
      best = url;
      bestWeight = w;
    }
  }
  if (best === undefined) throw new ExporterError('assignPushgateway: no Pushgateway URL');
  return best;
}
