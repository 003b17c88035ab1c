/**
 * Back office: the KYC queue. Clients waiting for a decision, longest-waiting first, with the documents they sent;
 * each opens the client's documents, where they are viewed, reviewed and decided on.
 */
import { Anchor, Group, Stack, Table, Text } from '@mantine/core';
import { useState } from 'react';
import { DateTime, Empty, ErrorAlert, Loading, Pager, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { useApi } from '../../ui/useApi.ts';
import { To, words } from '../common.tsx';
import type { KycDocument } from '../ops/types.ts';

const PAGE = 25;

interface QueueItem {
  client: {
    id: string;
    email: string;
    name: string;
    country: string;
    kycStatus: string;
    createdAt: string;
    pendingSince: string | null;
  };
  documents: KycDocument[];
}

export function KycQueuePage() {
  const [page, setPage] = useState(0);
  const { data, error, loading, reload } = useApi<{ items: QueueItem[]; total: number; next: number | null }>(
    '/api/backoffice/kyc/queue',
    { limit: PAGE, offset: page * PAGE },
  );
  return (
    <Stack gap="md">
      <PageTitle>KYC queue</PageTitle>
      <Group justify="space-between">
        <Text size="sm" c="dimmed" aria-live="polite">
          {data
            ? `${data.total} ${data.total === 1 ? 'client waits' : 'clients wait'} for a decision, longest first.`
            : ''}
        </Text>
        <Anchor component="button" type="button" size="sm" onClick={reload}>
          Refresh
        </Anchor>
      </Group>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>Nobody is waiting for a KYC decision.</Empty> : null}
      {data && data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={720}>
          <Table striped highlightOnHover withTableBorder aria-label="KYC queue" data-testid="kyc-queue">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Client</Table.Th>
                <Table.Th>Country</Table.Th>
                <Table.Th>Waiting since</Table.Th>
                <Table.Th>Documents</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map(({ client, documents }) => (
                <Table.Tr key={client.id}>
                  <Table.Td>
                    <To to={`/backoffice/clients/${client.id}/documents`} label={`Review ${client.name}`}>
                      {client.name}
                    </To>
                    <Text size="xs" c="dimmed">
                      {client.email}
                    </Text>
                  </Table.Td>
                  <Table.Td>{client.country}</Table.Td>
                  <Table.Td>
                    <DateTime value={client.pendingSince ?? client.createdAt} />
                  </Table.Td>
                  <Table.Td>
                    {documents.length === 0 ? (
                      <Text size="sm" c="dimmed">
                        none
                      </Text>
                    ) : (
                      <Group gap={6}>
                        {documents.map((d) => (
                          <Group key={d.id} gap={4} wrap="nowrap">
                            <Text size="sm">{words(d.type)}</Text>
                            <StatusBadge status={d.status} />
                          </Group>
                        ))}
                      </Group>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <Pager page={page} hasNext={data?.next != null} onChange={setPage} />
    </Stack>
  );
}
