/**
 * EventBridge schedule expressions: `rate(5 minutes)` or `cron(0/5 * * * ? *)`.
 * Used to check an expression and, for rate(), to know the interval.
 */
export type Schedule =
  | { readonly kind: 'rate'; readonly expression: string; readonly intervalMs: number }
  | { readonly kind: 'cron'; readonly expression: string };

const UNIT_MS: Readonly<Record<string, number>> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

export function parseSchedule(expression: string): Schedule {
  const text = expression.trim();
  const rate = /^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$/.exec(text);
  if (rate !== null) {
    const value = Number(rate[1]);
    const unit = rate[2] ?? '';
    const singular = unit.replace(/s$/, '');
    if (value < 1) throw new Error(`schedule "${text}": the rate must be at least 1`);
    // EventBridge wants "1 minute" but "5 minutes".
    if ((value === 1) !== (unit === singular)) {
      throw new Error(
        `schedule "${text}": write rate(1 ${singular}) for one, rate(N ${singular}s) for more`,
      );
    }
    return { kind: 'rate', expression: text, intervalMs: value * (UNIT_MS[singular] ?? NaN) };
  }
  const cron = /^cron\((.+)\)$/.exec(text);
  if (cron !== null && (cron[1] ?? '').trim().split(/\s+/).length === 6) {
    return { kind: 'cron', expression: text };
  }
  throw new Error(
    `schedule "${text}" is not an EventBridge expression: use rate(N minutes) or cron(min hour day month weekday year)`,
  );
}
