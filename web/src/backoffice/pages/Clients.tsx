/**
 * Back office: clients. Search by name, email or id (with KYC status and status filters, in pages), and one client
 * with tabs: profile, trading accounts, KYC documents, money (every movement and its timeline), notes, trading history.
 */
import { Button, Group, NativeSelect, Stack, Table, Text, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { Route, Routes, useSearchParams } from 'react-router';
import { DateTime, Empty, ErrorAlert, Loading, Pager, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { useApi } from '../../ui/useApi.ts';
import { To, words } from '../common.tsx';
import { ClientDetail } from '../ops/ClientDetail.tsx';
import type { Client } from '../ops/types.ts';

const PAGE = 25;
const kycStatuses = ['not_started', 'pending', 'more_info_requested', 'approved', 'rejected', 'expired'];
const clientStatuses = ['active', 'suspended', 'closed'];

export function ClientsPage() {
  return (
    <Routes>
      <Route index element={<ClientList />} />
      <Route path=":id/*" element={<ClientDetail />} />
    </Routes>
  );
}

function ClientList() {
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const kycStatus = params.get('kycStatus') ?? '';
  const status = params.get('status') ?? '';
  const page = Number(params.get('page') ?? '0') || 0;
  const [draft, setDraft] = useState(q);
  const { data, error, loading, reload } = useApi<{ items: Client[]; next: number | null }>('/api/backoffice/clients', {
    q,
    kycStatus,
    status,
    limit: PAGE,
    offset: page * PAGE,
  });
  const set = (change: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(change)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    if (!('page' in change)) next.delete('page');
    setParams(next);
  };
  function submit(event: FormEvent) {
    event.preventDefault();
    set({ q: draft.trim() });
  }
  return (
    <Stack gap="md">
      <PageTitle>Clients</PageTitle>
      <form onSubmit={submit} aria-label="Search clients">
        <Group align="flex-end" wrap="wrap">
          <TextInput
            label="Name, email or client id"
            placeholder="e.g. maria@ or Maria Ioannou"
            value={draft}
            onChange={(e) => setDraft(e.currentTarget.value)}
            maxLength={254}
            w={{ base: '100%', sm: 320 }}
          />
          <Button type="submit">Search</Button>
          <NativeSelect
            label="KYC status"
            value={kycStatus}
            onChange={(e) => set({ kycStatus: e.currentTarget.value })}
            data={[{ value: '', label: 'Any' }, ...kycStatuses.map((s) => ({ value: s, label: words(s) }))]}
          />
          <NativeSelect
            label="Status"
            value={status}
            onChange={(e) => set({ status: e.currentTarget.value })}
            data={[{ value: '', label: 'Any' }, ...clientStatuses.map((s) => ({ value: s, label: s }))]}
          />
        </Group>
      </form>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>No clients match.</Empty> : null}
      {data && data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={720}>
          <Table striped highlightOnHover withTableBorder aria-label="Clients" data-testid="clients-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Email</Table.Th>
                <Table.Th>Country</Table.Th>
                <Table.Th>KYC</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Registered</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map((c) => (
                <Table.Tr key={c.id} data-client={c.id}>
                  <Table.Td>
                    <To to={`/backoffice/clients/${c.id}/profile`}>{c.name}</To>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
                      {c.email}
                    </Text>
                  </Table.Td>
                  <Table.Td>{c.country}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={c.kycStatus} />
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={c.status} />
                  </Table.Td>
                  <Table.Td>
                    <DateTime value={c.createdAt} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <Pager page={page} hasNext={data?.next != null} onChange={(p) => set({ page: p ? String(p) : '' })} />
    </Stack>
  );
}
