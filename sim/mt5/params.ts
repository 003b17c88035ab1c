/**
 * Request parameters as the Web API reads them: from the query string and from an optional JSON body (the body wins,
 * as MetaQuotes documents), with keys compared case-insensitively and without `_`/`-`, so `pass_main`, `PassMain`
 * and `passmain` are one key. Malformed values are a protocol error (retcode 3), never an exception that escapes.
 */
import { fail, Retcode } from './retcodes.ts';

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[_-]/g, '');
}

export class Params {
  private readonly values = new Map<string, string>();

  private constructor() {}

  /** `query` is the raw query string (without `?`); `body` the parsed JSON body, if any. */
  static from(query: string, body?: unknown): Params {
    const params = new Params();
    for (const [key, value] of new URLSearchParams(query)) {
      const k = normalizeKey(key);
      if (!params.values.has(k)) params.values.set(k, value);
    }
    if (body !== undefined && body !== null) {
      if (typeof body !== 'object' || Array.isArray(body)) fail(Retcode.ERR_PARAMS, 'the body must be a JSON object');
      for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
        if (typeof value === 'string') params.values.set(normalizeKey(key), value);
        else if (typeof value === 'number' || typeof value === 'boolean')
          params.values.set(normalizeKey(key), String(value));
      }
    }
    return params;
  }

  has(name: string): boolean {
    const v = this.values.get(normalizeKey(name));
    return v !== undefined && v !== '';
  }

  string(name: string): string | undefined {
    return this.values.get(normalizeKey(name));
  }

  requireString(name: string): string {
    const v = this.string(name);
    if (v === undefined || v === '') fail(Retcode.ERR_PARAMS, `${name} is required`);
    return v;
  }

  /** An integer parameter; absent or empty → undefined; present but not an integer → retcode 3. */
  int(name: string): number | undefined {
    const v = this.string(name)?.trim();
    if (v === undefined || v === '') return undefined;
    if (!INTEGER.test(v)) fail(Retcode.ERR_PARAMS, `${name} must be an integer`);
    const n = Number(v);
    if (!Number.isSafeInteger(n)) fail(Retcode.ERR_PARAMS, `${name} is out of range`);
    return n;
  }

  requireInt(name: string): number {
    const n = this.int(name);
    if (n === undefined) fail(Retcode.ERR_PARAMS, `${name} is required`);
    return n;
  }

  /** A decimal parameter (plain notation or exponent); absent → undefined; malformed → retcode 3. */
  number(name: string): number | undefined {
    const v = this.string(name)?.trim();
    if (v === undefined || v === '') return undefined;
    if (!DECIMAL.test(v)) fail(Retcode.ERR_PARAMS, `${name} must be a number`);
    const n = Number(v);
    if (!Number.isFinite(n)) fail(Retcode.ERR_PARAMS, `${name} is out of range`);
    return n;
  }

  requireNumber(name: string): number {
    const n = this.number(name);
    if (n === undefined) fail(Retcode.ERR_PARAMS, `${name} is required`);
    return n;
  }

  /** A comma-separated list of integers (e.g. `login=1001,1002`). */
  intList(name: string): number[] {
    const v = this.string(name);
    if (v === undefined || v.trim() === '') return [];
    return v.split(',').map((part) => {
      const t = part.trim();
      if (!INTEGER.test(t) || !Number.isSafeInteger(Number(t))) fail(Retcode.ERR_PARAMS, `${name} must list integers`);
      return Number(t);
    });
  }
}
