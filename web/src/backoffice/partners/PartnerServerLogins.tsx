/**
 * A partner's own logins on the trading servers: the agent of referred clients' new accounts there, and, when linked
 * to the CRM trading account with that login, a destination for payouts.
 */
import { Alert, Button, Checkbox, Group, Paper, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { type FormEvent, useState } from 'react';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, StatusBadge } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import type { ServerLogin } from './types.ts';

interface FoundAccount {
  id: string;
  serverCode: string;
  login: number;
  currency: string;
  status: string;
  clientId: string;
  clientName: string;
  clientPartnerId: string | null;
}

function AddServerLogin({ partnerId, onDone }: { partnerId: string; onDone: () => void }) {
  const { can } = useStaff();
  const servers = useApi<{ items: { code: string }[] }>(can('servers.read') ? '/api/backoffice/servers' : null);
  const serverCodes = (servers.data?.items ?? []).map((s) => s.code);
  const [serverCode, setServerCode] = useState('');
  const [login, setLogin] = useState('');
  const [found, setFound] = useState<FoundAccount | null>(null);
  const [link, setLink] = useState(true);
  const lookup = useAction((query: { serverCode: string; login: string }) =>
    api.get<{ account: FoundAccount }>(`/api/backoffice/partners/${partnerId}/server-login-account`, query),
  );
  const add = useAction((body: unknown) => api.post(`/api/backoffice/partners/${partnerId}/server-logins`, body));
  const loginNumber = Number(login);
  const loginValid = /^\d+$/.test(login.trim()) && loginNumber > 0;

  async function find() {
    setFound(null);
    const result = await lookup.run({ serverCode: serverCode.trim(), login: login.trim() });
    if (result) setFound(result.account);
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    const linkIt = link && found && found.serverCode === serverCode.trim() && found.login === loginNumber;
    const result = await add.run({
      serverCode: serverCode.trim(),
      login: loginNumber,
      ...(linkIt ? { tradingAccountId: found.id } : {}),
    });
    if (result) {
      notifications.show({ color: 'teal', message: `Login ${loginNumber} on ${serverCode.trim()} added.` });
      setLogin('');
      setFound(null);
      onDone();
    }
  }

  return (
    <Paper withBorder p="md">
      <form onSubmit={submit} aria-label="Add a server login">
        <Stack gap="sm">
          <Title order={4}>Add a server login</Title>
          <Group grow align="flex-start" wrap="wrap">
            <TextInput
              label="Server code"
              value={serverCode}
              onChange={(e) => {
                setServerCode(e.currentTarget.value);
                setFound(null);
              }}
              list={serverCodes.length ? 'bd-server-codes' : undefined}
              required
            />
            <TextInput
              label="Login"
              inputMode="numeric"
              value={login}
              onChange={(e) => {
                setLogin(e.currentTarget.value);
                setFound(null);
              }}
              error={login && !loginValid ? 'A login is a positive whole number' : undefined}
              required
            />
          </Group>
          {serverCodes.length ? (
            <datalist id="bd-server-codes">
              {serverCodes.map((c) => (
                <option key={c} value={c} />
              ))}
            </datalist>
          ) : null}
          <Group>
            <Button
              variant="light"
              onClick={find}
              disabled={!serverCode.trim() || !loginValid}
              loading={lookup.pending}
            >
              Find the trading account
            </Button>
            <Text size="xs" c="dimmed">
              Payouts to a trading account need the login linked to the CRM account with that login.
            </Text>
          </Group>
          {lookup.error ? (
            <Alert color="yellow" role="status">
              {lookup.error}
            </Alert>
          ) : null}
          {found ? (
            <Paper withBorder p="sm" bg="var(--mantine-color-gray-0)">
              <Text size="sm">
                Login {found.login} on {found.serverCode}: {found.clientName}'s {found.currency} account,{' '}
                <StatusBadge status={found.status} />
              </Text>
              {found.clientPartnerId === partnerId ? (
                <Text size="xs" c="orange">
                  This client was referred by this partner: make sure the account is the partner's own.
                </Text>
              ) : null}
              <Checkbox
                mt="xs"
                label="Link it: payouts to this login go to this trading account"
                checked={link}
                onChange={(e) => setLink(e.currentTarget.checked)}
                disabled={found.status !== 'open'}
              />
            </Paper>
          ) : null}
          <ErrorAlert error={add.error} />
          <Group>
            <Button type="submit" loading={add.pending} disabled={!serverCode.trim() || !loginValid}>
              Add login
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}

export function PartnerServerLogins({ partnerId }: { partnerId: string }) {
  const { can } = useStaff();
  const { data, error, loading, reload } = useApi<{ items: ServerLogin[] }>(
    `/api/backoffice/partners/${partnerId}/server-logins`,
  );
  const remove = useAction((id: string) => api.delete(`/api/backoffice/partners/${partnerId}/server-logins/${id}`));
  const manage = can('commissions.manage');
  return (
    <Stack gap="md">
      <Text size="sm" c="dimmed">
        A partner's login on a server becomes the agent account of referred clients' new accounts there.
      </Text>
      <ErrorAlert error={error ?? remove.error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>No server logins.</Empty> : null}
      {data && data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={560}>
          <Table striped withTableBorder aria-label="Server logins">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Server</Table.Th>
                <Table.Th>Login</Table.Th>
                <Table.Th>Payouts</Table.Th>
                <Table.Th>Added</Table.Th>
                {manage ? <Table.Th /> : null}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map((l) => (
                <Table.Tr key={l.id}>
                  <Table.Td>{l.serverCode}</Table.Td>
                  <Table.Td>{l.login}</Table.Td>
                  <Table.Td>{l.tradingAccountId ? 'to its trading account' : 'not linked'}</Table.Td>
                  <Table.Td>
                    <DateTime value={l.createdAt} />
                  </Table.Td>
                  {manage ? (
                    <Table.Td>
                      <Button
                        size="xs"
                        variant="subtle"
                        color="red"
                        loading={remove.pending}
                        aria-label={`Remove login ${l.login} on ${l.serverCode}`}
                        onClick={async () => {
                          if (await remove.run(l.id)) reload();
                        }}
                      >
                        Remove
                      </Button>
                    </Table.Td>
                  ) : null}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      {manage ? <AddServerLogin partnerId={partnerId} onDone={reload} /> : null}
    </Stack>
  );
}
