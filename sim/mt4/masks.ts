/**
 * MT4 group masks, as in a manager's "groups" field and AdmUsersRequest: `real-*,!real-vip*`. A group matches when
 * it matches at least one positive mask and no excluding (`!`) mask, so exclusions win regardless of order. Matching
 * is case-sensitive, like group lookup, so a product mapped to `Real-Std` never lands in `real-std` by accident.
 */
export class GroupMask {
  private readonly include: RegExp[] = [];
  private readonly exclude: RegExp[] = [];

  constructor(readonly source: string) {
    for (const raw of source.split(',')) {
      const part = raw.trim();
      if (!part) continue;
      if (part.startsWith('!')) {
        const body = part.slice(1).trim();
        if (body) this.exclude.push(toRegExp(body));
      } else {
        this.include.push(toRegExp(part));
      }
    }
  }

  /** True when the list names at least one group pattern to include (an empty or exclude-only list matches nothing). */
  get isEmpty(): boolean {
    return this.include.length === 0;
  }

  matches(group: string): boolean {
    return this.include.some((r) => r.test(group)) && !this.exclude.some((r) => r.test(group));
  }
}

function toRegExp(mask: string): RegExp {
  const escaped = mask.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}
