import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildComment, COMMENT_MAX, newReference, parseReference, referenceKinds } from './reference.ts';

describe('references', () => {
  it('are 20 characters with a readable kind and parse back', () => {
    const ref = newReference('deposit');
    expect(ref).toMatch(/^BD-DEP-[0-9A-Z]{12}.$/);
    expect(ref).toHaveLength(20);
    expect(parseReference(ref)).toEqual({ reference: ref, kind: 'deposit' });
  });

  it('survive the 31-character cut whatever the note', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...(Object.keys(referenceKinds) as (keyof typeof referenceKinds)[])),
        fc.string(),
        (kind, note) => {
          const ref = newReference(kind);
          const comment = buildComment(ref, note);
          expect(comment.length).toBeLessThanOrEqual(COMMENT_MAX);
          expect(parseReference(comment.slice(0, COMMENT_MAX))?.reference).toBe(ref);
        },
      ),
    );
  });

  it('are found inside a comment a server lowercased or prefixed', () => {
    const ref = newReference('withdrawal');
    expect(parseReference(`wd ${ref.toLowerCase()}`)?.reference).toBe(ref);
  });

  it('reject text that only looks like a reference (wrong check symbol)', () => {
    const ref = newReference('deposit');
    const last = ref.at(-1)!;
    const forged = ref.slice(0, -1) + (last === '0' ? '1' : '0');
    expect(parseReference(forged)).toBeNull();
    expect(parseReference('Dealer correction #1234')).toBeNull();
    expect(parseReference('')).toBeNull();
    expect(parseReference(null)).toBeNull();
  });

  it('detect nearly every single-character corruption of the body', () => {
    let caught = 0;
    let total = 0;
    for (let i = 0; i < 200; i++) {
      const ref = newReference('deposit');
      const pos = 7 + (i % 12);
      const replacement = ref[pos] === 'A' ? 'B' : 'A';
      const changed = ref.slice(0, pos) + replacement + ref.slice(pos + 1);
      total += 1;
      if (parseReference(changed) === null) caught += 1;
    }
    expect(caught).toBe(total);
  });
});
