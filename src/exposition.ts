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
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const QUOTE_OR_ESCAPE = /["\\]/g;
const NUMBER = /^[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)$/;

/** A line the parser cannot read: its number and a short excerpt. */
export class ExpositionError extends Error {
  constructor(line: number, why: string, text: string) {
    super(`exposition line ${line}: ${why}: ${JSON.stringify(text.slice(0, 200))}`);
    this.name = 'ExpositionError';
  }
}

/** A sample value as the text format writes it: a float, `NaN`, `+Inf`, `-Inf`. */
export function parseValue(text: string): number | undefined {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return NUMBER.test(text) ? Number(text) : undefined;
}

/** HELP text unescaped: `\\` and `\n`. */
function unescapeHelp(text: string): string {
  return text.includes('\\')
    ? text.replace(/\\([\\n])/g, (_, c: string) => (c === 'n' ? '\n' : '\\'))
    : text;
}

/** The family a sample's name belongs to: itself, or a histogram's or summary's base name. */
function familyOf(name: string, current: ParsedFamily | undefined): boolean {
  if (current === undefined) return false;
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

/**
 * Parses `name{a="x",b="y"} value` (labels optional, no timestamp: the
 * exporter writes none) starting at `line`'s first character.
 */
function parseSampleLine(line: string, number: number): ParsedSample {
  const bad = (why: string) => new ExpositionError(number, why, line);
  const brace = line.indexOf('{');
  const space = line.indexOf(' ');
  const nameEnd = brace >= 0 && (space < 0 || brace < space) ? brace : space;
  if (nameEnd <= 0) throw bad('a sample line needs a name and a value');
  const name = line.slice(0, nameEnd);
  if (!METRIC_NAME.test(name)) throw bad('not a metric name');
  const labels: [string, string][] = [];
  let at = nameEnd;
  if (line[at] === '{') {
    at += 1;
    while (line[at] !== '}') {
      LABEL_NAME.lastIndex = at;
      const label = LABEL_NAME.exec(line)?.[0];
      if (label === undefined) throw bad(`a label name expected at character ${at}`);
      at += label.length;
      if (line[at] !== '=' || line[at + 1] !== '"') throw bad(`="…" expected after ${label}`);
      at += 2;
      let value = '';
      for (;;) {
        QUOTE_OR_ESCAPE.lastIndex = at;
        const stop = QUOTE_OR_ESCAPE.exec(line);
        if (stop === null) throw bad(`the value of ${label} does not end`);
        value += line.slice(at, stop.index);
        at = stop.index + 1;
        if (stop[0] === '"') break;
        const escaped = line[at];
        if (escaped === '\\' || escaped === '"') value += escaped;
        else if (escaped === 'n') value += '\n';
        else throw bad(`an invalid escape in the value of ${label}`);
        at += 1;
      }
      if (labels.some(([n]) => n === label)) throw bad(`label ${label} twice`);
      labels.push([label, value]);
      if (line[at] === ',') at += 1;
      else if (line[at] !== '}') throw bad(`, or } expected after the value of ${label}`);
    }
    at += 1;
  }
  if (line[at] !== ' ') throw bad('a space and a value expected');
  const series = line.slice(0, at);
  const rest = line.slice(at + 1).trim();
  if (rest.includes(' ')) throw bad('a timestamp or more after the value');
  const value = parseValue(rest);
  if (value === undefined) throw bad('not a sample value');
  return { name, labels, value, series };
}

/**
 * The families of an exposition, in order, each with its samples. A sample
 * outside the family of the TYPE or HELP line before it is a family of its
 * own (untyped), as Prometheus reads it.
 */
export function parseExposition(text: string): ParsedFamily[] {
  const families: ParsedFamily[] = [];
  let current: ParsedFamily | undefined;
  let number = 0;
  const startFamily = (name: string, type: MetricType, help: string): ParsedFamily => {
    const family: ParsedFamily = { name, type, help, samples: [] };
    families.push(family);
    return family;
  };
  for (let start = 0; start < text.length;) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    number += 1;
    if (line === '') continue;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) ([^ ]+)(?: (.*))?$/.exec(line);
      // Any other comment is a comment.
      if (match === null) continue;
      const [, kind, name = '', rest = ''] = match;
      if (!METRIC_NAME.test(name)) throw new ExpositionError(number, 'not a metric name', line);
      if (current?.name !== name || current.samples.length > 0) {
        current = startFamily(name, 'untyped', '');
      }
      const family = current as { type: MetricType; help: string };
      if (kind === 'HELP') family.help = unescapeHelp(rest);
      else {
        if (!TYPES.has(rest as MetricType)) {
          throw new ExpositionError(number, `unknown metric type "${rest}"`, line);
        }
        family.type = rest as MetricType;
      }
      continue;
    }
    const sample = parseSampleLine(line, number);
    if (!familyOf(sample.name, current)) current = startFamily(sample.name, 'untyped', '');
    (current as ParsedFamily).samples.push(sample);
  }
  return families;
}
