/** What a client sees first: whether anything is asked of them (email, documents), their accounts, recent money. */
import { Alert, Anchor, Button, Group, SimpleGrid, Stack, Table, Text } from '@mantine/core';
import { useState } from 'react';
import { Link } from 'react-router';
import { api, errorMessage } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, Money, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { useApi } from '../../ui/useApi.ts';
import { useClient } from '../auth.tsx';
import { MovementLink, Section, useAccounts } from '../components.tsx';
import { kindLabel, type MovementPage } from '../types.ts';

export const kycWords: Record<string, string> = {
  not_started: 'We need your identity documents before you can trade on a live account or withdraw.',
  pending: 'Your documents are with our compliance team.',
  more_info_requested: 'Our compliance team needs more from you: see your documents.',
  approved: 'Your identity is verified.',
  rejected: 'Your documents were not accepted: see your documents for why, and upload new ones.',
  expired: 'Your verification has expired: upload current documents.',
};

export function OverviewPage() {
  const { me } = useClient();
  const accounts = useAccounts();
  const movements = useApi<MovementPage>('/api/portal/movements', { limit: 5 });
  return (
    <Stack>
      <PageTitle>Welcome, {me.client.name}</PageTitle>
      {!me.emailVerified ? <VerifyEmailReminder /> : null}
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Section title="Identity verification" actions={<StatusBadge status={me.client.kycStatus} />}>
          <Stack gap="xs">
            <Text size="sm">{kycWords[me.client.kycStatus] ?? me.client.kycStatus}</Text>
            {me.client.kycExpiresAt ? (
              <Text size="sm" c="dimmed">
                Valid until <DateTime value={me.client.kycExpiresAt} />
              </Text>
            ) : null}
            <Group>
              <Button component={Link} to="/documents" variant="light" size="xs">
                Documents
              </Button>
            </Group>
          </Stack>
        </Section>
        <Section
          title="Trading accounts"
          actions={
            <Button component={Link} to="/accounts" variant="light" size="xs">
              Open an account
            </Button>
          }
        >
          {accounts.error ? <ErrorAlert error={accounts.error} onRetry={accounts.reload} /> : null}
          {!accounts.data && accounts.loading ? <Loading /> : null}
          {accounts.data && accounts.data.items.length === 0 ? <Empty>No trading account yet.</Empty> : null}
          {accounts.data?.items.length ? (
            <Table.ScrollContainer minWidth={300}>
              <Table>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Login</Table.Th>
                    <Table.Th>Type</Table.Th>
                    <Table.Th>Status</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {accounts.data.items.slice(0, 5).map((a) => (
                    <Table.Tr key={a.id}>
                      <Table.Td>
                        <Anchor component={Link} to={`/accounts/${a.id}`}>
                          {a.login ?? 'being opened'}
                        </Anchor>
                      </Table.Td>
                      <Table.Td>
                        {a.productName} · {a.environment} · {a.currency}
                      </Table.Td>
                      <Table.Td>
                        <StatusBadge status={a.status} />
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          ) : null}
        </Section>
      </SimpleGrid>
      <Section
        title="Recent money movements"
        actions={
          <Anchor component={Link} to="/movements" size="sm">
            All movements
          </Anchor>
        }
      >
        {movements.error ? <ErrorAlert error={movements.error} onRetry={movements.reload} /> : null}
        {!movements.data && movements.loading ? <Loading /> : null}
        {movements.data && movements.data.items.length === 0 ? (
          <Empty>Nothing yet: your deposits, withdrawals and transfers will show here.</Empty>
        ) : null}
        {movements.data?.items.length ? (
          <Table.ScrollContainer minWidth={300}>
            <Table aria-label="Recent money movements">
              <Table.Tbody>
                {movements.data.items.map((m) => (
                  <Table.Tr key={m.id}>
                    <Table.Td>
                      <MovementLink id={m.id}>{kindLabel[m.kind]}</MovementLink>
                      <Text size="xs" c="dimmed">
                        <DateTime value={m.createdAt} />
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Money minor={m.amountMinor} currency={m.currency} />
                    </Table.Td>
                    <Table.Td>
                      <StatusBadge status={m.status} />
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        ) : null}
      </Section>
    </Stack>
  );
}

function VerifyEmailReminder() {
  const [state, setState] = useState<{ pending?: boolean; sent?: boolean; error?: string }>({});
  async function resend() {
    setState({ pending: true });
    try {
      await api.post('/api/portal/auth/resend-verification');
      setState({ sent: true });
    } catch (err) {
      setState({ error: errorMessage(err) });
    }
  }
  return (
    <Alert color="yellow" title="Confirm your email address" role="status">
      <Stack gap="xs">
        <Text size="sm">We sent you a link. Open it to confirm your address: live accounts open only after that.</Text>
        {state.sent ? <Text size="sm">A new link is on its way.</Text> : null}
        <ErrorAlert error={state.error} />
        <Group>
          <Button size="xs" variant="light" color="yellow" onClick={resend} loading={state.pending}>
            Send the link again
          </Button>
        </Group>
      </Stack>
    </Alert>
  );
}
