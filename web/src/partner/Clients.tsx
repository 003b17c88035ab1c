/** The clients the partner referred, newest first, a page at a time (no contact details: the API gives none). */
import { Group, NativeSelect, Stack, Table, Text } from '@mantine/core';
import { useState } from 'react';
import { DateTime, Empty, ErrorAlert, Loading, Pager, PageTitle, StatusBadge } from '../ui/components.tsx';
import { useApi } from '../ui/useApi.ts';
import type { ReferredClient } from './shared/types.ts';

const PAGE = 25;
const kycStatuses = ['', 'not_started', 'pending', 'more_info_requested', 'approved', 'rejected', 'expired'];

export function ReferredClientsTable({ items }: { items: ReferredClient[] }) {
  return (
    <Table.ScrollContainer minWidth={560}>
      <Table striped withTableBorder aria-label="Referred clients" data-testid="clients-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Country</Table.Th>
            <Table.Th>KYC</Table.Th>
            <Table.Th ta="right">Trading accounts</Table.Th>
            <Table.Th>Registered</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {items.map((c) => (
            <Table.Tr key={c.id}>
              <Table.Td>{c.name}</Table.Td>
              <Table.Td>{c.country}</Table.Td>
              <Table.Td>
                <StatusBadge status={c.kycStatus} />
              </Table.Td>
              <Table.Td ta="right">{c.accounts}</Table.Td>
              <Table.Td>
                <DateTime value={c.registeredAt} />
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

export function ClientsScreen() {
  const [page, setPage] = useState(0);
  const [kycStatus, setKycStatus] = useState('');
  const { data, error, loading, reload } = useApi<{ items: ReferredClient[]; total: number; next: number | null }>(
    '/api/partner/clients',
    { kycStatus, limit: PAGE, offset: page * PAGE },
  );
  return (
    <Stack gap="md">
      <PageTitle>Referred clients</PageTitle>
      <Group justify="space-between" align="flex-end">
        <NativeSelect
          label="KYC status"
          value={kycStatus}
          onChange={(e) => {
            setKycStatus(e.currentTarget.value);
            setPage(0);
          }}
          data={kycStatuses.map((s) => ({ value: s, label: s ? s.replaceAll('_', ' ') : 'Any' }))}
        />
        {data ? (
          <Text size="sm" c="dimmed" data-testid="clients-total">
            {data.total} {data.total === 1 ? 'client' : 'clients'}
          </Text>
        ) : null}
      </Group>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? (
        <Empty>No clients yet. Share your referral link from the dashboard.</Empty>
      ) : null}
      {data && data.items.length > 0 ? <ReferredClientsTable items={data.items} /> : null}
      <Pager page={page} hasNext={data?.next !== null && data?.next !== undefined} onChange={setPage} />
    </Stack>
  );
}
