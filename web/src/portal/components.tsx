/** Pieces the portal screens share: the frame of the signed-out pages, account pickers, a movement's timeline. */
import {
  Anchor,
  Badge,
  Center,
  Group,
  NativeSelect,
  Paper,
  SimpleGrid,
  Stack,
  Text,
  Timeline,
  Title,
} from '@mantine/core';
import { type ReactNode, useEffect, useMemo } from 'react';
import { Link } from 'react-router';
import { DateTime, ErrorAlert, Loading, Money, StatusBadge } from '../ui/components.tsx';
import { useApi } from '../ui/useApi.ts';
import { type Account, accountLabel, kindLabel, type MovementDetail, type TimelineEntry } from './types.ts';

/** Registration, sign-in and the verification link: one card in the middle of the page, at any width. */
export function PublicFrame({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Center mih="100vh" p="md">
      <Paper withBorder shadow="sm" p={{ base: 'md', sm: 'xl' }} w={460} maw="100%">
        <Stack>
          <Text fw={700} c="indigo">
            Brokerdesk · client portal
          </Text>
          <Title order={1} size="h2">
            {title}
          </Title>
          {children}
        </Stack>
      </Paper>
    </Center>
  );
}

/** A card with a heading: the building block of the portal's screens. */
export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-label={title}>
      <Group justify="space-between" mb="sm" wrap="wrap">
        <Title order={3} size="h4">
          {title}
        </Title>
        {actions}
      </Group>
      {children}
    </Paper>
  );
}

/** The client's trading accounts; reloads every few seconds while one is still being opened on its server. */
export function useAccounts() {
  const state = useApi<{ items: Account[] }>('/api/portal/accounts');
  const opening = state.data?.items.some((a) => a.status === 'requested' || a.status === 'opening') ?? false;
  usePoll(state.reload, opening, 3000);
  return state;
}

/** Calls `reload` every `ms` while `active`. */
export function usePoll(reload: () => void, active: boolean, ms: number) {
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(reload, ms);
    return () => clearInterval(timer);
  }, [reload, active, ms]);
}

/** A native select of the client's open accounts (native: the phone's own picker, and labelled for screen readers). */
export function AccountSelect({
  accounts,
  label,
  value,
  onChange,
  exclude,
  description,
}: {
  accounts: Account[];
  label: string;
  value: string;
  onChange: (id: string) => void;
  exclude?: string;
  description?: string;
}) {
  const open = accounts.filter((a) => a.status === 'open' && a.id !== exclude);
  return (
    <NativeSelect
      label={label}
      description={description}
      value={value}
      onChange={(e) => onChange(e.currentTarget.value)}
      required
      data={[
        { value: '', label: open.length ? 'Choose an account' : 'No open account yet' },
        ...open.map((a) => ({ value: a.id, label: accountLabel(a) })),
      ]}
    />
  );
}

const sourceLabel: Record<TimelineEntry['source'], string> = {
  client: 'You',
  staff: 'Our team',
  psp: 'Payment provider',
  crm: 'Brokerdesk',
  server: 'Trading server',
};

/** One movement: what it is, where it is in one sentence, and everything that happened to it, oldest first. */
export function MovementView({ detail, accounts }: { detail: MovementDetail; accounts: Account[] | undefined }) {
  const { movement: m } = detail;
  const byId = useMemo(() => new Map((accounts ?? []).map((a) => [a.id, a])), [accounts]);
  const account = byId.get(m.accountId);
  const counter = m.counterAccountId ? byId.get(m.counterAccountId) : undefined;
  return (
    <Stack gap="md">
      <Group gap="sm" wrap="wrap">
        <Badge variant="outline">{kindLabel[m.kind]}</Badge>
        <StatusBadge status={m.status} />
        <Text fw={600} size="lg">
          {m.kind === 'transfer' ? '' : m.direction === 'out' ? '−' : '+'}
          <Money minor={m.amountMinor} currency={m.currency} />
        </Text>
      </Group>
      <Text data-testid="movement-summary" aria-live="polite">
        {detail.summary}
      </Text>
      <Text size="sm" c="dimmed">
        {m.kind === 'transfer' ? 'From account ' : m.direction === 'in' ? 'To account ' : 'From account '}
        {account ? accountLabel(account) : m.accountId}
        {m.kind === 'transfer' && m.counterAccountId ? (
          <>
            {' '}
            to account {counter ? accountLabel(counter) : m.counterAccountId}
            {m.counterAmountMinor !== null && m.counterCurrency && m.counterCurrency !== m.currency ? (
              <>
                {' '}
                (<Money minor={m.counterAmountMinor} currency={m.counterCurrency} /> at {m.fxRate})
              </>
            ) : null}
          </>
        ) : null}
        {' · started '}
        <DateTime value={m.createdAt} />
      </Text>
      <Timeline bulletSize={14} lineWidth={2} active={detail.entries.length - 1} role="list" aria-label="What happened">
        {detail.entries.map((e, i) => (
          <Timeline.Item
            // biome-ignore lint/suspicious/noArrayIndexKey: entries are append-only and never reordered
            key={i}
            role="listitem"
            title={
              <Text size="sm" fw={600}>
                {sourceLabel[e.source]}
              </Text>
            }
          >
            <Text size="sm">{e.message}</Text>
            <Text size="xs" c="dimmed">
              <DateTime value={e.at} />
            </Text>
          </Timeline.Item>
        ))}
      </Timeline>
    </Stack>
  );
}

export function MovementLink({ id, children }: { id: string; children: ReactNode }) {
  return (
    <Anchor component={Link} to={`/movements/${id}`}>
      {children}
    </Anchor>
  );
}

export interface AccountBalance {
  currency: string;
  balanceMinor: number;
  creditMinor: number;
  equityMinor: number;
  freeMarginMinor: number;
  marginLevel: number | null;
  at: string;
}

/** Balance, equity and free margin of an open account, read from its trading server now. */
export function BalanceFacts({ accountId }: { accountId: string }) {
  const state = useApi<AccountBalance>(`/api/portal/accounts/${accountId}/balance`);
  if (state.error) return <ErrorAlert error={state.error} onRetry={state.reload} />;
  if (!state.data) return <Loading label="Asking the trading server…" />;
  const b = state.data;
  const facts: [string, number][] = [
    ['Balance', b.balanceMinor],
    ['Equity', b.equityMinor],
    ['Free margin', b.freeMarginMinor],
    ['Bonus credit', b.creditMinor],
  ];
  return (
    <SimpleGrid cols={{ base: 2, md: 4 }} data-testid="account-balance">
      {facts.map(([label, minor]) => (
        <div key={label}>
          <Text size="xs" c="dimmed">
            {label}
          </Text>
          <Text fw={600}>
            <Money minor={minor} currency={b.currency} />
          </Text>
        </div>
      ))}
    </SimpleGrid>
  );
}

let countryCache: { value: string; label: string }[] | undefined;
const notCountries = new Set(['EU', 'EZ', 'UN', 'QO', 'ZZ', 'XA', 'XB']);

/** ISO 3166-1 alpha-2 codes with their English names, from the browser's own region list (as the API checks them). */
export function countries(): { value: string; label: string }[] {
  if (countryCache) return countryCache;
  const names = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
  const list: { value: string; label: string }[] = [];
  for (let a = 65; a <= 90; a++) {
    for (let b = 65; b <= 90; b++) {
      const code = String.fromCharCode(a, b);
      if (notCountries.has(code)) continue;
      let name: string | undefined;
      try {
        name = names.of(code);
      } catch {
        name = undefined;
      }
      if (name && name !== code) list.push({ value: code, label: name });
    }
  }
  list.sort((x, y) => x.label.localeCompare(y.label));
  countryCache = list;
  return list;
}

export function CountrySelect({ value, onChange }: { value: string; onChange: (code: string) => void }) {
  const data = useMemo(() => [{ value: '', label: 'Choose your country' }, ...countries()], []);
  return (
    <NativeSelect
      label="Country of residence"
      value={value}
      onChange={(e) => onChange(e.currentTarget.value)}
      data={data}
      required
    />
  );
}
