import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALL_RET_CODES, RET_TEXT } from './codes.ts';
import { callNames, callPath, calls, PUMPING_PATH } from './contract.ts';
import { GroupMask } from './masks.ts';
import { buildOpenApiDocument, OPENAPI_PATH, renderOpenApiYaml } from './openapi.ts';
import { toYaml } from './yaml.ts';

describe('MT4 bridge contract document', () => {
  it('docs/mt4-bridge.openapi.yaml is generated from the code (run node bin/run-ts.mjs sim/mt4/openapi.ts)', () => {
    expect(readFileSync(OPENAPI_PATH, 'utf8')).toBe(renderOpenApiYaml());
  });

  it('documents exactly the calls the simulator serves, with their access and return codes', () => {
    const doc = buildOpenApiDocument() as {
      paths: Record<string, { post?: { 'x-mt4-access': string; 'x-mt4-returns': number[] } }>;
    };
    expect(Object.keys(doc.paths).sort()).toEqual([...callNames.map(callPath), PUMPING_PATH].sort());
    for (const name of callNames) {
      const op = doc.paths[callPath(name)]!.post!;
      expect(op['x-mt4-access']).toBe(calls[name].access);
      for (const code of op['x-mt4-returns']) expect(ALL_RET_CODES).toContain(code);
    }
  });

  it('uses MT4 return codes exactly as DOMAIN §3 lists them', () => {
    expect([...ALL_RET_CODES]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 64, 65, 128, 133, 134, 137, 141]);
    expect(new Set(Object.values(RET_TEXT)).size).toBe(ALL_RET_CODES.length);
  });
});

describe('group masks', () => {
  it('matches includes, lets excludes win regardless of order, and is case-sensitive', () => {
    const mask = new GroupMask('!real-vip*, real-*');
    expect(mask.matches('real-std-usd')).toBe(true);
    expect(mask.matches('real-vip-usd')).toBe(false);
    expect(mask.matches('demo-std-usd')).toBe(false);
    expect(mask.matches('REAL-std-usd')).toBe(false);
    expect(new GroupMask('*').matches('anything')).toBe(true);
    expect(new GroupMask('real-std-usd').matches('real-std-usd2')).toBe(false);
    expect(new GroupMask('a.b*').matches('axb')).toBe(false);
    expect(new GroupMask('!real-*').isEmpty).toBe(true);
    expect(new GroupMask('').matches('')).toBe(false);
  });
});

describe('YAML emitter', () => {
  it('quotes what YAML would misread and keeps plain what is safe', () => {
    expect(toYaml({ a: 'yes', b: '200', c: 'a: b', d: 'plain', e: '', f: 'x #y', g: '$ref' })).toBe(
      ['a: "yes"', 'b: "200"', 'c: "a: b"', 'd: plain', 'e: ""', 'f: "x #y"', 'g: $ref', ''].join('\n'),
    );
  });

  it('writes nested structures, empty containers and multi-line text as blocks (and quotes YAML 1.1 booleans like n)', () => {
    const text = toYaml({ list: [{ k: 1, n: [true, null] }, []], empty: {}, text: 'line one\n\n  indented' });
    expect(text).toBe(
      [
        'list:',
        '  - k: 1',
        '    "n":',
        '      - true',
        '      - null',
        '  - []',
        'empty: {}',
        'text: |-',
        '  line one',
        '',
        '    indented',
        '',
      ].join('\n'),
    );
  });

  it('folds long prose at spaces only', () => {
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const lines = toYaml({ d: words }).trimEnd().split('\n');
    expect(lines[0]).toBe('d: >-');
    expect(
      lines
        .slice(1)
        .map((l) => l.trim())
        .join(' '),
    ).toBe(words);
    expect(lines.every((l) => l.length <= 114)).toBe(true);
  });
});
