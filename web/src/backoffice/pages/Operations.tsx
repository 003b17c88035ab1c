/**
 * Back office: operations, every write to a trading server. Filters by status, kind, server, login and reference
 * (newest first, in pages), and one operation with its attempt log, retry with the same reference and cancel.
 */
import { Anchor, Breadcrumbs, Button, Group, NativeSelect, Stack, Table, Text, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { Route, Routes, useParams, useSearchParams } from 'react-router';
import { DateTime, Empty, ErrorAlert, Loading, Pager, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { useApi } from '../../ui/useApi.ts';
import { To, useKeyset, words } from '../common.tsx';
import { OperationDetail } from '../ops/OperationDetail.tsx';
import { type Operation, operationKinds, operationStatuses } from '../ops/types.ts';

const PAGE = 25;

export function OperationsPage() {
  return (
    <Routes>
      <Route index element={<OperationList />} />
      <Route path=":id" element={<OperationScreen />} />
    </Routes>
  );
}

function OperationScreen() {
  const { id } = useParams();
  return (
    <Stack gap="sm">
      <Breadcrumbs>
        <To to="/backoffice/operations">Operations</To>
        <Text size="sm">Operation</Text>
      </Breadcrumbs>
      <OperationDetail id={id!} />
    </Stack>
  );
}

const filterKeys = ['status', 'kind', 'server', 'login', 'reference'] as const;

function OperationList() {
  // Filters live in the address, so a filtered list can be shared and survives a reload.
  const [params, setParams] = useSearchParams();
  const filters = Object.fromEntries(filterKeys.map((k) => [k, params.get(k) ?? ''])) as Record<
    (typeof filterKeys)[number],
    string
  >;
  const [draft, setDraft] = useState({ server: filters.server, login: filters.login, reference: filters.reference });
  const keyset = useKeyset();
  const { data, error, loading, reload } = useApi<{ items: Operation[]; next: number | null }>(
    '/api/backoffice/operations',
    { ...filters, before: keyset.cursor, limit: PAGE },
  );

  function set(change: Partial<typeof filters>) {
    const next = { ...filters, ...change };
    setParams(Object.fromEntries(Object.entries(next).filter(([, v]) => v)));
    keyset.reset();
  }
  function submit(event: FormEvent) {
    event.preventDefault();
    set({ server: draft.server.trim(), login: draft.login.trim(), reference: draft.reference.trim() });
  }

  return (
    <Stack gap="md">
      <PageTitle>Operations</PageTitle>
      <form onSubmit={submit} aria-label="Filter operations">
        <Group align="flex-end" wrap="wrap">
          <NativeSelect
            label="Status"
            value={filters.status}
            onChange={(e) => set({ status: e.currentTarget.value })}
            data={[
              { value: '', label: 'Any status' },
              ...operationStatuses.map((s) => ({ value: s, label: words(s) })),
            ]}
          />
          <NativeSelect
            label="Kind"
            value={filters.kind}
            onChange={(e) => set({ kind: e.currentTarget.value })}
            data={[{ value: '', label: 'Any kind' }, ...operationKinds.map((k) => ({ value: k, label: words(k) }))]}
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
          <TextInput
            label="Reference"
            placeholder="BD-DEP-…"
            value={draft.reference}
            onChange={(e) => setDraft({ ...draft, reference: e.currentTarget.value })}
            w={200}
          />
          <Button type="submit">Apply</Button>
          <Anchor component="button" type="button" size="sm" onClick={reload}>
            Refresh
          </Anchor>
        </Group>
      </form>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>No operations match.</Empty> : null}
      {data && data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={820}>
          <Table striped highlightOnHover withTableBorder aria-label="Operations" data-testid="operations-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Reference</Table.Th>
                <Table.Th>Kind</Table.Th>
                <Table.Th>Server · login</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th ta="right">Attempts</Table.Th>
                <Table.Th>Last change</Table.Th>
                <Table.Th>Last error</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map((op) => (
                <Table.Tr key={op.id} data-reference={op.reference}>
                  <Table.Td>
                    <To to={`/backoffice/operations/${op.id}`}>{op.reference}</To>
                  </Table.Td>
                  <Table.Td>{words(op.kind)}</Table.Td>
                  <Table.Td>
                    {op.serverCode}
                    {op.login ? ` · ${op.login}` : ''}
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={op.status} />
                  </Table.Td>
                  <Table.Td ta="right">{op.attempts}</Table.Td>
                  <Table.Td>
                    <DateTime value={op.updatedAt} />
                  </Table.Td>
                  <Table.Td maw={320}>
                    <Text size="xs" lineClamp={2}>
                      {op.lastError?.message ?? ''}
                    </Text>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <Pager page={keyset.page} hasNext={data?.next != null} onChange={(p) => keyset.go(p, data?.next)} />
    </Stack>
  );
}
