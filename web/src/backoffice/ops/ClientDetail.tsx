/**
 * One client in the back office, one tab per concern (each shown to the roles that may read it): profile (corrections
 * and status changes with a reason), trading accounts, KYC documents (view, review, decide), money (every movement,
 * each opening its full timeline), notes, trading history. The tab is part of the address.
 */
import { Anchor, Breadcrumbs, Group, Stack, Tabs, Text, Title } from '@mantine/core';
import { Navigate, useNavigate, useParams } from 'react-router';
import { ErrorAlert, Loading, StatusBadge } from '../../ui/components.tsx';
import { useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import { To } from '../common.tsx';
import { AccountsTab, DocumentsTab, HistoryTab, MoneyTab, NotesTab, ProfileTab } from './ClientTabs.tsx';
import type { Client } from './types.ts';

const tabs = [
  { value: 'profile', label: 'Profile', permission: 'clients.read' },
  { value: 'accounts', label: 'Accounts', permission: 'accounts.read' },
  { value: 'documents', label: 'Documents', permission: 'kyc.read' },
  { value: 'money', label: 'Money', permission: 'funding.read' },
  { value: 'notes', label: 'Notes', permission: 'clients.read' },
  { value: 'history', label: 'Trading history', permission: 'clients.read' },
] as const;

export function ClientDetail() {
  const params = useParams();
  const id = params.id!;
  const [tab = '', ...rest] = (params['*'] ?? '').split('/');
  const navigate = useNavigate();
  const { can } = useStaff();
  const { data, error, reload } = useApi<{ client: Client }>(`/api/backoffice/clients/${id}`);
  const allowed = tabs.filter((t) => can(t.permission));

  if (!allowed.some((t) => t.value === tab)) return <Navigate to={`/backoffice/clients/${id}/profile`} replace />;
  if (error && !data) return <ErrorAlert error={error} onRetry={reload} />;
  if (!data) return <Loading />;
  const client = data.client;
  return (
    <Stack gap="md">
      <Breadcrumbs>
        <To to="/backoffice/clients">Clients</To>
        <Text size="sm">{client.name}</Text>
      </Breadcrumbs>
      <Group justify="space-between" wrap="wrap">
        <Stack gap={2}>
          <Title order={2} data-testid="client-name">
            {client.name}
          </Title>
          <Anchor href={`mailto:${client.email}`} size="sm">
            {client.email}
          </Anchor>
        </Stack>
        <Group gap="xs">
          <Text size="sm">KYC</Text>
          <StatusBadge status={client.kycStatus} />
          <Text size="sm">Client</Text>
          <StatusBadge status={client.status} />
        </Group>
      </Group>
      <Tabs
        value={tab}
        onChange={(value) => value && navigate(`/backoffice/clients/${id}/${value}`)}
        keepMounted={false}
      >
        <Tabs.List aria-label="Client sections">
          {allowed.map((t) => (
            <Tabs.Tab key={t.value} value={t.value}>
              {t.label}
            </Tabs.Tab>
          ))}
        </Tabs.List>
        <Tabs.Panel value="profile" pt="md">
          <ProfileTab client={client} onChanged={reload} />
        </Tabs.Panel>
        <Tabs.Panel value="accounts" pt="md">
          <AccountsTab clientId={id} />
        </Tabs.Panel>
        <Tabs.Panel value="documents" pt="md">
          <DocumentsTab clientId={id} onChanged={reload} />
        </Tabs.Panel>
        <Tabs.Panel value="money" pt="md">
          <MoneyTab clientId={id} movementId={rest[0]} />
        </Tabs.Panel>
        <Tabs.Panel value="notes" pt="md">
          <NotesTab clientId={id} />
        </Tabs.Panel>
        <Tabs.Panel value="history" pt="md">
          <HistoryTab clientId={id} />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
