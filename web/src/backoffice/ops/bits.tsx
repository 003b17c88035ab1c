/** Small pieces the operations screens share: label/value facts, JSON details, keyset paging, refresh while moving. */
import { Anchor, Code, SimpleGrid, Stack, Text } from '@mantine/core';
import { type ReactNode, useEffect, useState } from 'react';
import { Link } from 'react-router';

/** Label / value pairs in a responsive grid (one column on a phone). */
export function Facts({ items }: { items: [label: string, value: ReactNode][] }) {
  return (
    <SimpleGrid cols={{ base: 1, xs: 2, md: 3 }} spacing="sm" verticalSpacing="xs" component="dl" m={0}>
      {items.map(([label, value]) => (
        <Stack key={label} gap={0}>
          <Text component="dt" size="xs" c="dimmed">
            {label}
          </Text>
          <Text component="dd" size="sm" m={0} style={{ overflowWrap: 'anywhere' }}>
            {value === null || value === undefined || value === '' ? '—' : value}
          </Text>
        </Stack>
      ))}
    </SimpleGrid>
  );
}

/** A JSON value behind a native disclosure (keyboard-operable, closed by default). */
export function JsonDetails({ value, summary = 'Details' }: { value: unknown; summary?: string }) {
  if (value === null || value === undefined) return null;
  if (typeof value === 'object' && Object.keys(value as object).length === 0) return null;
  return (
    <details>
      <summary style={{ cursor: 'pointer', fontSize: 'var(--mantine-font-size-xs)' }}>{summary}</summary>
      <Code block style={{ maxHeight: 320, overflow: 'auto', whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>
        {JSON.stringify(value, null, 2)}
      </Code>
    </details>
  );
}

/** A router link styled as an anchor. */
export function To({ to, children, label }: { to: string; children: ReactNode; label?: string }) {
  return (
    <Anchor component={Link} to={to} aria-label={label}>
      {children}
    </Anchor>
  );
}

/**
 * Keyset paging for lists answered with `next` (the cursor of the following page): remembers the cursor of each
 * page seen so Previous works. `reset()` goes back to the first page (after a filter change).
 */
export function useKeyset() {
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined]);
  const [page, setPage] = useState(0);
  return {
    page,
    cursor: cursors[page],
    go(to: number, next: number | null | undefined) {
      if (to > page && next != null) {
        setCursors((c) => {
          const copy = c.slice(0, to);
          copy[to] = next;
          return copy;
        });
      }
      setPage(to);
    },
    reset() {
      setCursors([undefined]);
      setPage(0);
    },
  };
}

/** Calls `reload` every `ms` while `active` (a status that still changes by itself). */
export function useRefreshWhile(active: boolean, reload: () => void, ms = 2000) {
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(reload, ms);
    return () => clearInterval(timer);
  }, [active, reload, ms]);
}

export const words = (value: string) => value.replaceAll('_', ' ');
/** "open_account" → "Open account". */
export const Words = (value: string) => {
  const w = words(value);
  return w.charAt(0).toUpperCase() + w.slice(1);
};
