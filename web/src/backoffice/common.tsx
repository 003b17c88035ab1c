/**
 * Pieces the back-office screens share (operations, clients, reconciliation, external changes, servers, products,
 * staff, audit): label/value facts, JSON behind a disclosure, router links, offset and keyset paging, words from codes.
 */
import { Anchor, Code, SimpleGrid, Stack, Text } from '@mantine/core';
import { type ReactNode, useState } from 'react';
import { Link } from 'react-router';

/** `needs_review` → "needs review". */
export const words = (code: string | null | undefined) => (code ? code.replaceAll('_', ' ') : '');

/** "needs review" → "Needs review". */
export const sentence = (code: string | null | undefined) => {
  const w = words(code);
  return w ? w[0]!.toUpperCase() + w.slice(1) : '';
};

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
export function Json({ value, summary = 'Details' }: { value: unknown; summary?: string }) {
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

/** Offset paging for lists answered with `total` or by a full page: `page` from 0. */
export function useOffset(size: number) {
  const [page, setPage] = useState(0);
  return { page, setPage, limit: size, offset: page * size, reset: () => setPage(0) };
}

/**
 * Keyset paging for lists answered with `next` (the cursor of the following page): remembers each page's cursor so
 * Previous works; `reset()` goes back to the first page (after a filter change).
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

/** Seconds as "45 s", "12 min", "3 h 5 min", "2 d 4 h". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}
