/** The clients a partner referred, a page at a time; a click opens the client when the staff member may. */
import { Anchor, Group, NativeSelect, Stack, Table, Text } from '@mantine/core';
import { useState } from 'react';
import { Link } from 'react-router';
import type { ReferredClient } from '../../partner/shared/types.ts';
import { DateTime, Empty, ErrorAlert, Loading, Pager, StatusBadge } from '../../ui/components.tsx';
import { useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';

const PAGE = 25;
const kycStatuses = ['', 'not_started', 'pending', 'more_info_requested', 'approved', 'rejected', 'expired'];

export function PartnerClients({ partnerId }: { partnerId: string }) {
  const { can } = useStaff();
  const [page, setPage] = useState(0);
  const [kycStatus, setKycStatus] = useState('');
  const { data, error, loading, reload } = useApi<{ items: ReferredClient[]; total: number; next: number | null }>(
    `/api/backoffice/partners/${partnerId}/clients`,
    { kycStatus, limit: PAGE, offset: page * PAGE },
  );
  return (
    <Stack gap="sm">
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
          <Text size="sm" c="dimmed">
            {data.total} referred {data.total === 1 ? 'client' : 'clients'}
          </Text>
        ) : null}
      </Group>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>No referred clients.</Empty> : null}
      {data && data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={560}>
          <Table striped withTableBorder aria-label="Referred clients">
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
              {data.items.map((c) => (
                <Table.Tr key={c.id}>
                  <Table.Td>
                    {can('clients.read') ? (
                      <Anchor component={Link} to={`/backoffice/clients/${c.id}`}>
                        {c.name}
                      </Anchor>
                    ) : (
                      c.name
                    )}
                  </Table.Td>
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
      ) : null}
      <Pager page={page} hasNext={data?.next !== null && data?.next !== undefined} onChange={setPage} />
    </Stack>
  );
}
