/**
 * Reconciliation breaks across runs (most recently seen first, filtered by status, class, server and login, in pages)
 * and the write-offs waiting for a second staff member.
 */
import { Anchor, Button, Group, NativeSelect, Stack, Table, Text, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { useSearchParams } from 'react-router';
import { DateTime, Empty, ErrorAlert, Loading, Money, Pager, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import { sentence, To, useOffset, words } from '../common.tsx';
import { ReconNav } from './ReconNav.tsx';
import { breakClasses, type ReconBreak, type WriteOff } from './types.ts';

const PAGE = 25;
const filterKeys = ['status', 'class', 'server', 'login'] as const;

export function BreakList() {
  const [params, setParams] = useSearchParams();
  const filters = Object.fromEntries(filterKeys.map((k) => [k, params.get(k) ?? ''])) as Record<
    (typeof filterKeys)[number],
    string
  >;
  const [draft, setDraft] = useState({ server: filters.server, login: filters.login });
  const paging = useOffset(PAGE);
  const { data, error, loading, reload } = useApi<{ items: ReconBreak[]; total: number }>(
    '/api/backoffice/recon/breaks',
    { ...filters, limit: paging.limit, offset: paging.offset },
  );
  function set(change: Partial<typeof filters>) {
    const next = { ...filters, ...change };
    setParams(Object.fromEntries(Object.entries(next).filter(([, v]) => v)));
    paging.reset();
  }
  function submit(event: FormEvent) {
    event.preventDefault();
    set({ server: draft.server.trim(), login: draft.login.trim() });
  }
  return (
    <Stack gap="md">
      <PageTitle>Reconciliation</PageTitle>
      <ReconNav />
      <form onSubmit={submit} aria-label="Filter breaks">
        <Group align="flex-end" wrap="wrap">
          <NativeSelect
            label="Status"
            value={filters.status}
            onChange={(e) => set({ status: e.currentTarget.value })}
            data={[
              { value: '', label: 'Open and resolved' },
              { value: 'open', label: 'Open' },
              { value: 'resolved', label: 'Resolved' },
            ]}
          />
          <NativeSelect
            label="Class"
            value={filters.class}
            onChange={(e) => set({ class: e.currentTarget.value })}
            data={[{ value: '', label: 'Every class' }, ...breakClasses.map((c) => ({ value: c, label: sentence(c) }))]}
          />
          <TextInput
            label="Server"
            placeholder="mt5-live"
            value={draft.server}
            onChange={(e) => setDraft({ ...draft, server: e.currentTarget.value })}
            w={140}
          />
          <TextInput
            label="Login"
            inputMode="numeric"
            value={draft.login}
            onChange={(e) => setDraft({ ...draft, login: e.currentTarget.value })}
            w={120}
          />
          <Button type="submit">Apply</Button>
          <Anchor component="button" type="button" size="sm" onClick={reload}>
            Refresh
          </Anchor>
        </Group>
      </form>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data ? (
        <Text size="sm" c="dimmed" aria-live="polite">
          {data.total} break{data.total === 1 ? '' : 's'}
        </Text>
      ) : null}
      {data && data.items.length === 0 ? <Empty>No breaks match.</Empty> : null}
      {data && data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={900}>
          <Table striped highlightOnHover withTableBorder aria-label="Reconciliation breaks" data-testid="breaks-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Class</Table.Th>
                <Table.Th>What</Table.Th>
                <Table.Th>Server · login / PSP</Table.Th>
                <Table.Th ta="right">Difference</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th ta="right">Seen</Table.Th>
                <Table.Th>Last seen</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map((b) => (
                <Table.Tr key={b.id} data-break={b.id} data-class={b.class}>
                  <Table.Td>
                    <To to={`/backoffice/reconciliation/breaks/${b.id}`} label={`Break ${b.key}`}>
                      {sentence(b.class)}
                    </To>
                  </Table.Td>
                  <Table.Td maw={260}>
                    <Text size="xs" style={{ overflowWrap: 'anywhere' }}>
                      {b.reference ?? b.pspTransactionId ?? b.key}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    {b.serverCode ? `${b.serverCode}${b.login ? ` · ${b.login}` : ''}` : (b.psp ?? '—')}
                  </Table.Td>
                  <Table.Td ta="right">
                    {b.currency ? <Money minor={b.differenceMinor} currency={b.currency} /> : '—'}
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={b.status} />
                    {b.resolution ? (
                      <Text size="xs" c="dimmed">
                        {words(b.resolution)}
                      </Text>
                    ) : null}
                  </Table.Td>
                  <Table.Td ta="right">{b.timesSeen}×</Table.Td>
                  <Table.Td>
                    <DateTime value={b.lastSeenAt} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <Pager
        page={paging.page}
        hasNext={data ? paging.offset + data.items.length < data.total : false}
        onChange={paging.setPage}
      />
    </Stack>
  );
}

export function WriteOffQueue() {
  const { me } = useStaff();
  const paging = useOffset(PAGE);
  const { data, error, loading, reload } = useApi<{
    items: { writeOff: WriteOff; break: ReconBreak }[];
    staffNames: Record<string, string>;
  }>('/api/backoffice/recon/write-offs', { limit: paging.limit, offset: paging.offset });
  return (
    <Stack gap="md">
      <PageTitle>Reconciliation</PageTitle>
      <ReconNav />
      <Text size="sm" c="dimmed">
        A write-off is asked for by one staff member and approved by another; the approval posts the difference against
        the write-offs account and resolves the break.
      </Text>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>No write-off is waiting for approval.</Empty> : null}
      {data && data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={760}>
          <Table striped withTableBorder aria-label="Write-offs waiting for approval" data-testid="write-off-queue">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Break</Table.Th>
                <Table.Th ta="right">Amount</Table.Th>
                <Table.Th>Reason</Table.Th>
                <Table.Th>Asked by</Table.Th>
                <Table.Th>Asked</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map(({ writeOff: w, break: b }) => (
                <Table.Tr key={w.id} data-write-off={w.id}>
                  <Table.Td>
                    <To to={`/backoffice/reconciliation/breaks/${b.id}`}>{sentence(b.class)}</To>
                    <Text size="xs" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
                      {b.reference ?? b.key}
                    </Text>
                  </Table.Td>
                  <Table.Td ta="right">
                    <Money minor={w.amountMinor} currency={w.currency} />
                  </Table.Td>
                  <Table.Td maw={320}>
                    <Text size="sm">{w.reason}</Text>
                  </Table.Td>
                  <Table.Td>
                    {w.requestedBy === me.staff.id ? 'you' : (data.staffNames[w.requestedBy] ?? w.requestedBy)}
                  </Table.Td>
                  <Table.Td>
                    <DateTime value={w.requestedAt} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <Pager page={paging.page} hasNext={(data?.items.length ?? 0) === PAGE} onChange={paging.setPage} />
    </Stack>
  );
}
