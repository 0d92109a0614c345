/**
 * Reads back the text exposition a run renders (prom-client's format 0.0.4)
 * as families of samples, for a sink that does not take text (remote
 * write). A run renders once; the Pushgateway gets the text, remote write
 * what this makes of it. Strict: a line it cannot read is an error naming
 * it, never a sample dropped or misread.
 */

/** The metric types of the text format; `untyped` for a family without a TYPE line. */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface ParsedSample {
  /** The series' metric name (a histogram's `_bucket`, `_sum`, `_count` included). */
  readonly name: string;
  /** Label pairs in the order written, without `__name__`. */
  readonly labels: readonly (readonly [string, string])[];
  readonly value: number;
  /** The line up to its value: the series' identity within one exposition of one target. */
  readonly series: string;
}

export interface ParsedFamily {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly samples: ParsedSample[];
}

const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const QUOTE_OR_ESCAPE = /["\\]/g;
const NUMBER = /^[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)$/;

/** A line the parser cannot read: its number and a short excerpt. */
export class ExpositionError extends Error {
  constructor(line: number, why: string, text: string) {
    super(`exposition line ${line}: ${why}: ${JSON.stringify(text.slice(0, 200))}`);
    this.name = 'ExpositionError';
  }
}

/**
 * A sample value as the text format writes it: a float, or NaN and the
 * infinities in any case, as Prometheus reads them (Go's ParseFloat:
 * prom-client writes `Nan`).
 */
export function parseValue(text: string): number | undefined {
  if (NUMBER.test(text)) return Number(text);
  const word = text.toLowerCase();
  if (word === 'nan') return Number.NaN;
  if (word === '+inf' || word === 'inf' || word === '+infinity' || word === 'infinity') {
    return Number.POSITIVE_INFINITY;
  }
  if (word === '-inf' || word === '-infinity') return Number.NEGATIVE_INFINITY;
  return undefined;
}

/** HELP text unescaped: `\\` and `\n`. */
function unescapeHelp(text: string): string {
  return text.includes('\\')
    ? text.replace(/\\([\\n])/g, (_, c: string) => (c === 'n' ? '\n' : '\\'))
    : text;
}

/** Whether a sample's name belongs to the family: its name, or a histogram's or summary's. */
function familyOf(name: string, current: FamilyHeader): boolean {
  if (name === current.name) return true;
  if (current.type !== 'histogram' && current.type !== 'summary') return false;
  const suffix = name.slice(current.name.length);
  return (
    name.startsWith(current.name) &&
    (suffix === '_sum' ||
      suffix === '_count' ||
      (suffix === '_bucket' && current.type === 'histogram'))
  );
}

/** Label names seen valid, so that each is checked once per process, not once per series. */
const validLabelNames = new Set<string>();
const MAX_VALID_NAMES = 10_000;

function isLabelName(name: string): boolean {
  if (validLabelNames.has(name)) return true;
  if (!LABEL_NAME.test(name)) return false;
  if (validLabelNames.size < MAX_VALID_NAMES) validLabelNames.add(name);
  return true;
}

/** A label value from `at` (after its opening quote) with its escapes undone, and where it ends. */
function labelValue(line: string, at: number, number: number): [string, number] {
  const quote = line.indexOf('"', at);
  if (quote < 0) throw new ExpositionError(number, 'a label value does not end', line);
  const backslash = line.indexOf('\\', at);
  // Most values have no escape: one slice.
  if (backslash < 0 || backslash > quote) return [line.slice(at, quote), quote + 1];
  let value = '';
  for (let i = at; ;) {
    QUOTE_OR_ESCAPE.lastIndex = i;
    const stop = QUOTE_OR_ESCAPE.exec(line)?.index;
    if (stop === undefined) throw new ExpositionError(number, 'a label value does not end', line);
    value += line.slice(i, stop);
    i = stop;
    if (line[i] === '"') return [value, i + 1];
    const escaped = line[i + 1];
    if (escaped === '\\' || escaped === '"') value += escaped;
    else if (escaped === 'n') value += '\n';
    else throw new ExpositionError(number, 'an invalid escape in a label value', line);
    i += 2;
  }
}

/**
 * One sample line, `name{a="x",b="y"} value` (labels optional, no
 * timestamp: the exporter writes none); `number` names it in errors.
 */
export function parseSample(line: string, number: number): ParsedSample {
  let at = 0;
  for (; at < line.length; at += 1) {
    const c = line.charCodeAt(at);
    if (c === 123 /* { */ || c === 32 /* space */) break;
  }
  const name = line.slice(0, at);
  if (!METRIC_NAME.test(name)) throw new ExpositionError(number, 'not a metric name', line);
  const labels: [string, string][] = [];
  if (line.charCodeAt(at) === 123) {
    at += 1;
    while (line.charCodeAt(at) !== 125 /* } */) {
      const eq = line.indexOf('="', at);
      if (eq < 0) throw new ExpositionError(number, `a label expected at character ${at}`, line);
      const label = line.slice(at, eq);
      if (!isLabelName(label))
        throw new ExpositionError(
          number,
          `not a label name: ${JSON.stringify(label.slice(0, 100))}`,
          line,
        );
      const [value, end] = labelValue(line, eq + 2, number);
      for (const [seen] of labels)
        if (seen === label) throw new ExpositionError(number, `label ${label} twice`, line);
      labels.push([label, value]);
      at = end;
      const next = line.charCodeAt(at);
      if (next === 44 /* , */) at += 1;
      else if (next !== 125)
        throw new ExpositionError(number, `, or } expected after the value of ${label}`, line);
    }
    at += 1;
  }
  if (line.charCodeAt(at) !== 32)
    throw new ExpositionError(number, 'a space and a value expected', line);
  const series = line.slice(0, at);
  const rest = line.slice(at + 1).trim();
  if (rest.includes(' '))
    throw new ExpositionError(number, 'a timestamp or more after the value', line);
  const value = parseValue(rest);
  if (value === undefined) throw new ExpositionError(number, 'not a sample value', line);
  return { name, labels, value, series };
}

/** A family as its HELP and TYPE lines declare it. */
export interface FamilyHeader {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
}

/**
 * Calls `onSample` for every sample of an exposition, in order, with the
 * family it belongs to (one object per family). A sample outside the family
 * of the TYPE or HELP lines before it is a family of its own (untyped), as
 * Prometheus reads it. Holds nothing: the caller keeps what it needs.
 */
export function eachSample(
  text: string,
  onSample: (sample: ParsedSample, family: FamilyHeader) => void,
): void {
  let current: { name: string; type: MetricType; help: string; samples: number } | undefined;
  let number = 0;
  const startFamily = (name: string) => {
    current = { name, type: 'untyped', help: '', samples: 0 };
    return current;
  };
  for (let start = 0; start < text.length;) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    number += 1;
    if (line === '') continue;
    if (line.charCodeAt(0) === 35 /* # */) {
      const match = /^# (HELP|TYPE) ([^ ]+)(?: (.*))?$/.exec(line);
      // Any other comment is a comment.
      if (match === null) continue;
      const [, kind, name = '', rest = ''] = match;
      if (!METRIC_NAME.test(name)) throw new ExpositionError(number, 'not a metric name', line);
      const family =
        current !== undefined && current.name === name && current.samples === 0
          ? current
          : startFamily(name);
      if (kind === 'HELP') family.help = unescapeHelp(rest);
      else {
        if (!TYPES.has(rest as MetricType)) {
          throw new ExpositionError(number, `unknown metric type "${rest}"`, line);
        }
        family.type = rest as MetricType;
      }
      continue;
    }
    const sample = parseSample(line, number);
    const family =
      current !== undefined && familyOf(sample.name, current) ? current : startFamily(sample.name);
    family.samples += 1;
    onSample(sample, family);
  }
}

/** The families of an exposition, in order, each with its samples (see eachSample). */
export function parseExposition(text: string): ParsedFamily[] {
  const families: ParsedFamily[] = [];
  let last: FamilyHeader | undefined;
  let samples: ParsedSample[] = [];
  eachSample(text, (sample, family) => {
    if (family !== last) {
      last = family;
      samples = [];
      families.push({ name: family.name, type: family.type, help: family.help, samples });
    }
    samples.push(sample);
  });
  return families;
}
