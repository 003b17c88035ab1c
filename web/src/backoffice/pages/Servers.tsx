/**
 * Back office: trading servers. Each server's health as this API process sees it (circuit state, last ping latency,
 * error rate, last error; "Check now" pings every enabled server), its trade-sync state (synced to, lag, failures),
 * and adding or changing a server (the password is a secret reference, never the password itself).
 */
import {
  Anchor,
  Badge,
  Button,
  Checkbox,
  Group,
  NativeSelect,
  NumberInput,
  Paper,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { type FormEvent, useState } from 'react';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, PageTitle } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import { duration } from '../common.tsx';
import type { Server, SyncStatus } from '../control/types.ts';

const circuitColor: Record<string, string> = { closed: 'green', half_open: 'orange', open: 'red' };

export function ServersPage() {
  const { can } = useStaff();
  const servers = useApi<{ items: Server[] }>('/api/backoffice/servers');
  const sync = useApi<{ items: SyncStatus[] }>('/api/backoffice/sync');
  const [pinged, setPinged] = useState<Server[]>();
  const [editing, setEditing] = useState<Server | 'new' | null>(null);
  const ping = useAction(() => api.post<{ items: Server[] }>('/api/backoffice/servers/ping'));
  const items = pinged ?? servers.data?.items;
  const syncOf = (code: string) => sync.data?.items.find((s) => s.server === code);

  async function checkNow() {
    const result = await ping.run();
    if (result) {
      setPinged(result.items);
      sync.reload();
    }
  }
  function saved() {
    setEditing(null);
    setPinged(undefined);
    servers.reload();
    sync.reload();
  }

  return (
    <Stack gap="md">
      <PageTitle
        actions={
          <>
            <Button variant="light" onClick={checkNow} loading={ping.pending}>
              Check now
            </Button>
            {can('servers.manage') ? <Button onClick={() => setEditing('new')}>Add a server</Button> : null}
          </>
        }
      >
        Trading servers
      </PageTitle>
      <ErrorAlert error={servers.error} onRetry={servers.reload} />
      <ErrorAlert error={ping.error} />
      {editing ? (
        <ServerForm server={editing === 'new' ? null : editing} onSaved={saved} onCancel={() => setEditing(null)} />
      ) : null}
      {servers.loading && !items ? <Loading /> : null}
      {items && items.length === 0 ? <Empty>No trading server is configured yet.</Empty> : null}
      {items && items.length > 0 ? (
        <Table.ScrollContainer minWidth={1000}>
          <Table striped withTableBorder aria-label="Trading servers" data-testid="servers-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Server</Table.Th>
                <Table.Th>Circuit</Table.Th>
                <Table.Th ta="right">Latency</Table.Th>
                <Table.Th>Last ping</Table.Th>
                <Table.Th ta="right">Errors</Table.Th>
                <Table.Th>Synced to</Table.Th>
                <Table.Th ta="right">Sync lag</Table.Th>
                <Table.Th>Last error</Table.Th>
                {can('servers.manage') ? <Table.Th>Change</Table.Th> : null}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((s) => {
                const h = s.health;
                const st = syncOf(s.code);
                return (
                  <Table.Tr key={s.code} data-server={s.code}>
                    <Table.Td>
                      <Text fw={600} size="sm">
                        {s.code}
                      </Text>
                      <Text size="xs" c="dimmed">
                        {s.platform.toUpperCase()} · {s.environment} · {s.address}
                        {s.enabled ? '' : ' · disabled'}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      {h ? (
                        <Badge
                          color={circuitColor[h.circuit] ?? 'gray'}
                          variant="light"
                          style={{ minWidth: 'max-content' }}
                          data-testid="circuit"
                        >
                          {h.circuit.replace('_', ' ')}
                        </Badge>
                      ) : (
                        <Text size="xs" c="dimmed">
                          not contacted yet
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td ta="right">
                      {h?.lastPingLatencyMs != null ? `${Math.round(h.lastPingLatencyMs)} ms` : '—'}
                    </Table.Td>
                    <Table.Td>
                      <DateTime value={h?.lastPingAt} />
                    </Table.Td>
                    <Table.Td ta="right">
                      {h ? `${Math.round(h.errorRate * 100)}% of ${h.calls}` : '—'}
                      {h && h.consecutiveFailures > 0 ? (
                        <Text size="xs" c="red">
                          {h.consecutiveFailures} in a row
                        </Text>
                      ) : null}
                    </Table.Td>
                    <Table.Td>
                      <DateTime value={st?.syncedTo} />
                    </Table.Td>
                    <Table.Td ta="right">
                      {st ? (st.lagSeconds === null ? 'never synced' : duration(st.lagSeconds)) : '—'}
                    </Table.Td>
                    <Table.Td maw={280}>
                      <Text size="xs" lineClamp={3} c={h?.lastError || st?.lastError ? 'red' : undefined}>
                        {h?.lastError ? `${h.lastError.class}: ${h.lastError.message}` : (st?.lastError ?? '')}
                      </Text>
                    </Table.Td>
                    {can('servers.manage') ? (
                      <Table.Td>
                        <Anchor component="button" type="button" size="sm" onClick={() => setEditing(s)}>
                          Edit {s.code}
                        </Anchor>
                      </Table.Td>
                    ) : null}
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <Text size="xs" c="dimmed">
        Health is what this API process has seen of each server (the worker pings them on its own); “Check now” pings
        every enabled server from here.
      </Text>
    </Stack>
  );
}

interface Draft {
  code: string;
  platform: 'mt4' | 'mt5';
  environment: 'live' | 'demo';
  address: string;
  managerLogin: number | string;
  passwordSecret: string;
  caCertPath: string;
  timeZone: string;
  connectTimeoutMs: number | string;
  requestTimeoutMs: number | string;
  enabled: boolean;
}

function ServerForm({
  server,
  onSaved,
  onCancel,
}: {
  server: Server | null;
  onSaved: () => void;
  onCancel: () => void;
}) {
  const [d, setD] = useState<Draft>({
    code: server?.code ?? '',
    platform: server?.platform ?? 'mt5',
    environment: server?.environment ?? 'demo',
    address: server?.address ?? 'https://',
    managerLogin: server?.managerLogin ?? '',
    passwordSecret: '',
    caCertPath: server?.caCertPath ?? '',
    timeZone: server?.timeZone ?? 'Europe/Nicosia',
    connectTimeoutMs: server?.connectTimeoutMs ?? 5000,
    requestTimeoutMs: server?.requestTimeoutMs ?? 15000,
    enabled: server?.enabled ?? true,
  });
  const save = useAction((body: unknown) => api.post<Server>('/api/backoffice/servers', body));
  const set = (change: Partial<Draft>) => setD({ ...d, ...change });
  async function submit(event: FormEvent) {
    event.preventDefault();
    const result = await save.run({
      code: d.code.trim(),
      platform: d.platform,
      environment: d.environment,
      address: d.address.trim(),
      managerLogin: Number(d.managerLogin),
      passwordSecret: d.passwordSecret.trim(),
      caCertPath: d.caCertPath.trim() || null,
      timeZone: d.timeZone.trim(),
      connectTimeoutMs: Number(d.connectTimeoutMs),
      requestTimeoutMs: Number(d.requestTimeoutMs),
      enabled: d.enabled,
    });
    if (result) {
      notifications.show({ color: 'green', message: `Server ${result.code} saved.` });
      onSaved();
    }
  }
  return (
    <Paper withBorder p="md">
      <form onSubmit={submit} aria-label={server ? `Change server ${server.code}` : 'Add a server'}>
        <Stack gap="sm">
          <Title order={3} size="h4">
            {server ? `Change ${server.code}` : 'Add a server'}
          </Title>
          <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
            <TextInput
              label="Code"
              description="Lowercase letters, digits and dashes, e.g. mt5-live-1"
              value={d.code}
              onChange={(e) => set({ code: e.currentTarget.value })}
              readOnly={!!server}
              required
            />
            <NativeSelect
              label="Platform"
              value={d.platform}
              onChange={(e) => set({ platform: e.currentTarget.value as Draft['platform'] })}
              data={[
                { value: 'mt5', label: 'MetaTrader 5' },
                { value: 'mt4', label: 'MetaTrader 4' },
              ]}
            />
            <NativeSelect
              label="Environment"
              value={d.environment}
              onChange={(e) => set({ environment: e.currentTarget.value as Draft['environment'] })}
              data={[
                { value: 'demo', label: 'Demo' },
                { value: 'live', label: 'Live' },
              ]}
            />
            <TextInput
              label="Address"
              description="https:// only"
              value={d.address}
              onChange={(e) => set({ address: e.currentTarget.value })}
              required
            />
            <NumberInput
              label="Manager login"
              value={d.managerLogin}
              onChange={(v) => set({ managerLogin: v })}
              allowDecimal={false}
              allowNegative={false}
              required
            />
            <TextInput
              label="Password secret"
              description="env:VARIABLE or file:/path — never the password itself"
              value={d.passwordSecret}
              onChange={(e) => set({ passwordSecret: e.currentTarget.value })}
              required
            />
            <TextInput
              label="CA certificate path (optional)"
              value={d.caCertPath}
              onChange={(e) => set({ caCertPath: e.currentTarget.value })}
            />
            <TextInput
              label="Server time zone"
              description="IANA zone, e.g. Europe/Nicosia"
              value={d.timeZone}
              onChange={(e) => set({ timeZone: e.currentTarget.value })}
              required
            />
            <NumberInput
              label="Connect timeout (ms)"
              value={d.connectTimeoutMs}
              onChange={(v) => set({ connectTimeoutMs: v })}
              allowDecimal={false}
            />
            <NumberInput
              label="Request timeout (ms)"
              value={d.requestTimeoutMs}
              onChange={(v) => set({ requestTimeoutMs: v })}
              allowDecimal={false}
            />
          </SimpleGrid>
          <Checkbox label="Enabled" checked={d.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} />
          <ErrorAlert error={save.error} />
          <Group>
            <Button type="submit" loading={save.pending}>
              Save server
            </Button>
            <Button variant="default" onClick={onCancel}>
              Cancel
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}
