import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, strict, with its errors turned into UsageErrors naming the command. */
export function parseCommand<O extends Options>(
  command: string,
  argv: string[],
  options: O,
  allowPositionals: boolean,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals,
    });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))
      throw new UsageError((err as Error).message, command);
    throw err;
  }
}

/** A number option within [min, max]; `integer` rejects fractions. */
export function numberOption(
  command: string,
  name: string,
  raw: string | boolean | undefined,
  limits: { min: number; max: number; integer?: boolean },
): number | undefined {
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  const n = text === '' ? NaN : Number(text.replace(/_/g, ''));
  const kind = limits.integer ? 'a whole number' : 'a number';
  if (!Number.isFinite(n) || (limits.integer && !Number.isInteger(n)) || n < limits.min || n > limits.max)
    throw new UsageError(
      `--${name} must be ${kind} in [${limits.min}, ${limits.max}], got "${text}"`,
      command,
    );
  return n;
}

export function stringOption(raw: string | boolean | undefined): string | undefined {
  return typeof raw === 'string' ? raw : undefined;
}
