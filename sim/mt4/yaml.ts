/**
 * A minimal YAML emitter for the OpenAPI document (JSON-compatible data only: objects, arrays, strings, numbers,
 * booleans, null). Strings that are not obviously plain are written JSON-quoted (valid YAML double-quoted scalars);
 * multi-line text becomes a literal block, long prose a folded block, so the document reads well in a review.
 */
const RESERVED = /^(?:true|false|null|yes|no|on|off|y|n|~)$/i;
const PLAIN = /^[A-Za-z_$/][A-Za-z0-9_.$/-]*$/;
const FOLD_AT = 110;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isPlain(text: string): boolean {
  return PLAIN.test(text) && !RESERVED.test(text);
}

function key(name: string): string {
  return isPlain(name) ? name : JSON.stringify(name);
}

/** Splits prose into lines of at most FOLD_AT characters at single spaces (a folded block restores each as a space). */
function fold(text: string): string[] | undefined {
  if (text.length <= FOLD_AT || /\s{2}|^\s|\s$|[\t\r]/.test(text)) return undefined;
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > FOLD_AT) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines.length > 1 ? lines : undefined;
}

/** A scalar either fits after `key: ` (inline) or needs a block header plus indented lines. */
function scalar(value: Json, indent: number): { inline: string; block?: string[] } {
  if (value === null) return { inline: 'null' };
  if (typeof value === 'boolean' || typeof value === 'number') return { inline: String(value) };
  if (typeof value !== 'string') throw new TypeError('not a scalar');
  const pad = ' '.repeat(indent);
  if (value.includes('\n') && !/[\t\r]/.test(value) && !/^\s/.test(value)) {
    const lines = value.replace(/\s+$/, '').split('\n');
    return { inline: '|-', block: lines.map((l) => (l ? pad + l.replace(/\s+$/, '') : '')) };
  }
  const folded = fold(value);
  if (folded) return { inline: '>-', block: folded.map((l) => pad + l) };
  return { inline: isPlain(value) ? value : JSON.stringify(value) };
}

function isEmptyContainer(value: Json): boolean {
  return (Array.isArray(value) && value.length === 0) || (isObject(value) && Object.keys(value).length === 0);
}

function isObject(value: Json): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function emit(value: Json, indent: number): string[] {
  const pad = ' '.repeat(indent);
  const out: string[] = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isObject(item) || Array.isArray(item)) {
        if (isEmptyContainer(item)) {
          out.push(`${pad}- ${Array.isArray(item) ? '[]' : '{}'}`);
          continue;
        }
        const inner = emit(item, indent + 2);
        out.push(`${pad}- ${inner[0]!.slice(indent + 2)}`, ...inner.slice(1));
      } else {
        const s = scalar(item, indent + 2);
        out.push(`${pad}- ${s.inline}`, ...(s.block ?? []));
      }
    }
    return out;
  }
  if (isObject(value)) {
    for (const [name, item] of Object.entries(value)) {
      if (isEmptyContainer(item)) out.push(`${pad}${key(name)}: ${Array.isArray(item) ? '[]' : '{}'}`);
      else if (isObject(item) || Array.isArray(item)) out.push(`${pad}${key(name)}:`, ...emit(item, indent + 2));
      else {
        const s = scalar(item, indent + 2);
        out.push(`${pad}${key(name)}: ${s.inline}`, ...(s.block ?? []));
      }
    }
    return out;
  }
  const s = scalar(value, indent);
  return [s.inline, ...(s.block ?? [])];
}

export function toYaml(value: unknown): string {
  return `${emit(JSON.parse(JSON.stringify(value)) as Json, 0).join('\n')}\n`;
}
