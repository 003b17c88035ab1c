/** Choose a partner by typing part of a name, email or referral code (the master IB of a sub-IB, say). */
import { Select } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useRef, useState } from 'react';
import { useApi } from '../../ui/useApi.ts';
import type { PartnerListItem } from './types.ts';

export function PartnerSelect({
  label,
  value,
  onChange,
  exclude,
  initial,
  description,
}: {
  label: string;
  value: string | null;
  onChange: (id: string | null) => void;
  /** A partner that may not be chosen (the partner itself, as its own master). */
  exclude?: string;
  /** The currently chosen partner, so that its name shows before any search. */
  initial?: { id: string; name: string; email: string } | null;
  description?: string;
}) {
  const [search, setSearch] = useState('');
  const [query] = useDebouncedValue(search, 250);
  const { data, error } = useApi<{ items: PartnerListItem[] }>('/api/backoffice/partners', {
    q: query,
    limit: 20,
  });
  // Every partner seen so far keeps its label, so the chosen one still shows when a later search misses it.
  const seen = useRef(new Map<string, string>());
  if (initial) seen.current.set(initial.id, `${initial.name} · ${initial.email}`);
  for (const p of data?.items ?? []) seen.current.set(p.id, `${p.name} · ${p.email}`);
  const shown = new Set((data?.items ?? []).map((p) => p.id));
  if (value) shown.add(value);
  const options = new Map([...seen.current].filter(([id]) => id !== exclude && shown.has(id)));
  return (
    <Select
      label={label}
      description={description}
      placeholder="Type a name, email or code"
      searchable
      clearable
      nothingFoundMessage="No partner matches"
      value={value}
      onChange={onChange}
      onSearchChange={(text) => setSearch(value && text === seen.current.get(value) ? '' : text)}
      data={[...options.entries()].map(([v, l]) => ({ value: v, label: l }))}
      error={error}
      filter={({ options: o }) => o}
    />
  );
}
