/** A minimal parser of the Prometheus text format, for assertions in tests. */
import { expect } from 'vitest';

export interface ParsedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParsedExposition {
  readonly samples: readonly ParsedSample[];
  readonly help: ReadonlyMap<string, string>;
  readonly type: ReadonlyMap<string, string>;
}

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

export function parseExposition(text: string): ParsedExposition {
  const samples: ParsedSample[] = [];
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7);
      const space = rest.indexOf(' ');
      help.set(
        space < 0 ? rest : rest.slice(0, space),
        space < 0 ? '' : unescape(rest.slice(space + 1)),
      );
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name, kind] = line.slice(7).split(' ');
      if (name !== undefined && kind !== undefined) type.set(name, kind);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null) throw new Error(`cannot parse line: ${line}`);
    const labels: Record<string, string> = {};
    const body = match[2] ?? '';
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (const m of body.matchAll(labelPattern)) labels[m[1]!] = unescape(m[2]!);
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return { samples, help, type };
}

/** Samples of one family whose labels include every given label. */
export function select(
  exposition: ParsedExposition,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): ParsedSample[] {
  return exposition.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The value of the only sample of `name` with `labels`; exactly one must be there. */
export function onlyValue(
  exposition: ParsedExposition,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  const samples = select(exposition, name, labels);
  expect(samples, `${name} ${JSON.stringify(labels)}`).toHaveLength(1);
  return samples[0]!.value;
}
