/** The tabs of one client in the back office (see ClientDetail.tsx). */
import {
  Anchor,
  Badge,
  Button,
  Card,
  Group,
  NativeSelect,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { type FormEvent, useCallback, useState } from 'react';
import { useNavigate } from 'react-router';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, Money, Pager, StatusBadge } from '../../ui/components.tsx';
import { parseMoney } from '../../ui/money.ts';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import { Facts, To, useKeyset, words } from '../common.tsx';
import { MovementDetail } from './MovementDetail.tsx';
import { MovementTable } from './MovementTable.tsx';
import type { Account, Client, HistoryItem, KycBody, KycDocument, MovementPage, Note, OpenOrder } from './types.ts';

const PAGE = 25;

// --- profile -----------------------------------------------------------------------------------------------------

export function ProfileTab({ client, onChanged }: { client: Client; onChanged: () => void }) {
  const { can } = useStaff();
  return (
    <Stack gap="md">
      <Card withBorder>
        <Facts
          items={[
            ['Name', client.name],
            ['Email', client.email],
            ['Email verified', client.emailVerifiedAt ? <DateTime key="v" value={client.emailVerifiedAt} /> : 'no'],
            ['Country', client.country],
            ['Phone', client.phone],
            ['Status', <StatusBadge key="s" status={client.status} />],
            ['KYC', <StatusBadge key="k" status={client.kycStatus} />],
            ['KYC valid until', client.kycExpiresAt ? <DateTime key="e" value={client.kycExpiresAt} /> : null],
            ['Two-factor sign-in', client.totpEnabled ? 'on' : 'off'],
            ['Registered', <DateTime key="r" value={client.createdAt} />],
            ['Referred by partner', client.partnerId],
            ['Client id', client.id],
          ]}
        />
      </Card>
      {can('clients.manage') ? (
        <>
          <ProfileForm client={client} onChanged={onChanged} />
          <StatusForm client={client} onChanged={onChanged} />
          {client.totpEnabled ? <TwoFactorReset client={client} onChanged={onChanged} /> : null}
        </>
      ) : null}
    </Stack>
  );
}

function ProfileForm({ client, onChanged }: { client: Client; onChanged: () => void }) {
  const [name, setName] = useState(client.name);
  const [phone, setPhone] = useState(client.phone ?? '');
  const [country, setCountry] = useState(client.country);
  const save = useAction(
    useCallback(() => {
      const change: Record<string, string | null> = {};
      if (name.trim() !== client.name) change.name = name.trim();
      if ((phone.trim() || null) !== client.phone) change.phone = phone.trim() || null;
      if (country.trim().toUpperCase() !== client.country) change.country = country.trim().toUpperCase();
      return api.patch<{ client: Client }>(`/api/backoffice/clients/${client.id}`, change);
    }, [client, name, phone, country]),
  );
  async function submit(event: FormEvent) {
    event.preventDefault();
    if (await save.run()) {
      notifications.show({ color: 'green', message: 'Profile saved.' });
      onChanged();
    }
  }
  return (
    <Card withBorder component="form" onSubmit={submit} aria-label="Correct the profile">
      <Stack gap="sm">
        <Title order={4}>Correct the profile</Title>
        <Group align="flex-end" wrap="wrap">
          <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} maxLength={120} />
          <TextInput
            label="Phone"
            description="International format, e.g. +35799123456"
            value={phone}
            onChange={(e) => setPhone(e.currentTarget.value)}
          />
          <TextInput
            label="Country"
            description="Two letters, e.g. CY"
            value={country}
            onChange={(e) => setCountry(e.currentTarget.value)}
            maxLength={2}
            w={120}
          />
        </Group>
        <ErrorAlert error={save.error} />
        <Group>
          <Button type="submit" loading={save.pending}>
            Save
          </Button>
        </Group>
      </Stack>
    </Card>
  );
}

function StatusForm({ client, onChanged }: { client: Client; onChanged: () => void }) {
  const [status, setStatus] = useState<string>(client.status === 'active' ? 'suspended' : 'active');
  const [reason, setReason] = useState('');
  const change = useAction(
    useCallback(
      () => api.patch<{ client: Client }>(`/api/backoffice/clients/${client.id}`, { status, reason: reason.trim() }),
      [client.id, status, reason],
    ),
  );
  async function submit(event: FormEvent) {
    event.preventDefault();
    if (await change.run()) {
      notifications.show({ message: `Client is now ${status}.` });
      setReason('');
      onChanged();
    }
  }
  return (
    <Card withBorder component="form" onSubmit={submit} aria-label="Change the client's status">
      <Stack gap="sm">
        <Title order={4}>Suspend, close or reactivate</Title>
        <Group align="flex-end" wrap="wrap">
          <NativeSelect
            label="New status"
            value={status}
            onChange={(e) => setStatus(e.currentTarget.value)}
            data={['active', 'suspended', 'closed'].filter((s) => s !== client.status)}
          />
          <TextInput
            label="Reason"
            value={reason}
            onChange={(e) => setReason(e.currentTarget.value)}
            maxLength={500}
            w={{ base: '100%', sm: 360 }}
          />
        </Group>
        <ErrorAlert error={change.error} />
        <Group>
          <Button type="submit" variant="light" color="orange" loading={change.pending}>
            Change status
          </Button>
        </Group>
      </Stack>
    </Card>
  );
}

/** For a client who lost the authenticator app: support checks who is asking first, and says how. */
function TwoFactorReset({ client, onChanged }: { client: Client; onChanged: () => void }) {
  const [reason, setReason] = useState('');
  const reset = useAction(
    useCallback(
      () => api.post(`/api/backoffice/clients/${client.id}/two-factor/reset`, { reason: reason.trim() }),
      [client.id, reason],
    ),
  );
  async function submit(event: FormEvent) {
    event.preventDefault();
    if (await reset.run()) {
      notifications.show({ message: 'Two-factor sign-in is off and the client is signed out everywhere.' });
      setReason('');
      onChanged();
    }
  }
  return (
    <Card withBorder component="form" onSubmit={submit} aria-label="Reset two-factor sign-in">
      <Stack gap="sm">
        <Title order={4}>Reset two-factor sign-in</Title>
        <Text size="sm" c="dimmed">
          Only for a client who lost the authenticator app, after checking who is asking. It turns two-factor off and
          ends every session of the client; the client signs in with the password and sets it up again.
        </Text>
        <TextInput
          label="How the client was identified"
          value={reason}
          onChange={(e) => setReason(e.currentTarget.value)}
          maxLength={500}
          w={{ base: '100%', sm: 480 }}
        />
        <ErrorAlert error={reset.error} />
        <Group>
          <Button type="submit" variant="light" color="red" loading={reset.pending}>
            Reset two-factor
          </Button>
        </Group>
      </Stack>
    </Card>
  );
}

// --- accounts ----------------------------------------------------------------------------------------------------

export function AccountsTab({ clientId }: { clientId: string }) {
  const { data, error, loading, reload } = useApi<{ items: Account[] }>('/api/backoffice/accounts', {
    clientId,
    limit: 500,
  });
  if (error && !data) return <ErrorAlert error={error} onRetry={reload} />;
  if (loading && !data) return <Loading />;
  if (!data || data.items.length === 0) return <Empty>No trading accounts.</Empty>;
  return (
    <Table.ScrollContainer minWidth={760}>
      <Table striped withTableBorder aria-label="Trading accounts" data-testid="accounts-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Login</Table.Th>
            <Table.Th>Server</Table.Th>
            <Table.Th>Product</Table.Th>
            <Table.Th>Group</Table.Th>
            <Table.Th>Currency</Table.Th>
            <Table.Th ta="right">Leverage</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Trading</Table.Th>
            <Table.Th>Opened</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {data.items.map((a) => (
            <Table.Tr key={a.id}>
              <Table.Td>{a.login ?? '—'}</Table.Td>
              <Table.Td>
                {a.serverCode}{' '}
                <Badge size="xs" variant="outline" color={a.environment === 'live' ? 'red' : 'gray'}>
                  {a.environment}
                </Badge>
              </Table.Td>
              <Table.Td>{a.productName}</Table.Td>
              <Table.Td>{a.group}</Table.Td>
              <Table.Td>{a.currency}</Table.Td>
              <Table.Td ta="right">1:{a.leverage}</Table.Td>
              <Table.Td>
                <StatusBadge status={a.status} />
                {a.failureReason ? (
                  <Text size="xs" c="red">
                    {a.failureReason}
                  </Text>
                ) : null}
              </Table.Td>
              <Table.Td>{a.tradingEnabled ? 'enabled' : 'disabled'}</Table.Td>
              <Table.Td>
                <DateTime value={a.createdAt} />
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

// --- KYC documents -----------------------------------------------------------------------------------------------

export function DocumentsTab({ clientId, onChanged }: { clientId: string; onChanged: () => void }) {
  const { can } = useStaff();
  const { data, error, loading, reload } = useApi<KycBody>(`/api/backoffice/clients/${clientId}/kyc`);
  const changed = () => {
    reload();
    onChanged();
  };
  if (error && !data) return <ErrorAlert error={error} onRetry={reload} />;
  if (loading && !data) return <Loading />;
  if (!data) return null;
  return (
    <Stack gap="md">
      <Group gap="xs">
        <Text size="sm">KYC status</Text>
        <StatusBadge status={data.kycStatus} />
        {data.kycExpiresAt ? (
          <Text size="sm" c="dimmed">
            valid until <DateTime value={data.kycExpiresAt} />
          </Text>
        ) : null}
      </Group>
      {data.documents.length === 0 ? (
        <Empty>The client has not uploaded any document.</Empty>
      ) : (
        <Table.ScrollContainer minWidth={720}>
          <Table withTableBorder aria-label="KYC documents" data-testid="documents-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Document</Table.Th>
                <Table.Th>Uploaded</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>File</Table.Th>
                <Table.Th>Review</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.documents.map((d) => (
                <Table.Tr key={d.id}>
                  <Table.Td>
                    <Text size="sm">{words(d.type)}</Text>
                    <Text size="xs" c="dimmed">
                      {d.originalName} · {Math.ceil(d.sizeBytes / 1024)} KiB
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <DateTime value={d.uploadedAt} />
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={d.status} />
                    {d.reviewNote ? <Text size="xs">{d.reviewNote}</Text> : null}
                  </Table.Td>
                  <Table.Td>
                    <Anchor
                      href={`/api/backoffice/kyc/documents/${d.id}/file`}
                      target="_blank"
                      rel="noopener"
                      aria-label={`View ${words(d.type)} ${d.originalName} (opens in a new tab)`}
                    >
                      View file
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    {d.status === 'pending' && can('kyc.review') ? (
                      <DocumentReview document={d} onReviewed={changed} />
                    ) : null}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {can('kyc.review') ? <KycDecision clientId={clientId} status={data.kycStatus} onDecided={changed} /> : null}
      <Card withBorder>
        <Title order={4} mb="xs">
          KYC status history
        </Title>
        {data.history.length === 0 ? (
          <Empty>No change yet.</Empty>
        ) : (
          <Table aria-label="KYC status history">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>When</Table.Th>
                <Table.Th>Change</Table.Th>
                <Table.Th>By</Table.Th>
                <Table.Th>Reason</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.history.map((h) => (
                <Table.Tr key={h.id}>
                  <Table.Td>
                    <DateTime value={h.at} />
                  </Table.Td>
                  <Table.Td>
                    {words(h.fromStatus)} → {words(h.toStatus)}
                  </Table.Td>
                  <Table.Td>{h.actorType}</Table.Td>
                  <Table.Td>{h.reason ?? '—'}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>
    </Stack>
  );
}

function DocumentReview({ document, onReviewed }: { document: KycDocument; onReviewed: () => void }) {
  const [note, setNote] = useState('');
  const review = useAction(
    useCallback(
      (decision: 'approve' | 'reject') =>
        api.post(`/api/backoffice/kyc/documents/${document.id}/review`, {
          decision,
          ...(note.trim() ? { note: note.trim() } : {}),
        }),
      [document.id, note],
    ),
  );
  async function run(decision: 'approve' | 'reject') {
    if (await review.run(decision)) onReviewed();
  }
  return (
    <Stack gap={4}>
      <TextInput
        size="xs"
        label="Note"
        description="Required to reject"
        value={note}
        onChange={(e) => setNote(e.currentTarget.value)}
        maxLength={1000}
      />
      <Group gap={4}>
        <Button size="compact-xs" color="green" onClick={() => run('approve')} loading={review.pending}>
          Approve
        </Button>
        <Button size="compact-xs" color="red" variant="light" onClick={() => run('reject')} loading={review.pending}>
          Reject
        </Button>
      </Group>
      <ErrorAlert error={review.error} />
    </Stack>
  );
}

function KycDecision({ clientId, status, onDecided }: { clientId: string; status: string; onDecided: () => void }) {
  const [decision, setDecision] = useState('approve');
  const [reason, setReason] = useState('');
  const decide = useAction(
    useCallback(
      () =>
        api.post(`/api/backoffice/clients/${clientId}/kyc/decision`, {
          decision,
          ...(reason.trim() ? { reason: reason.trim() } : {}),
        }),
      [clientId, decision, reason],
    ),
  );
  async function submit(event: FormEvent) {
    event.preventDefault();
    if (await decide.run()) {
      notifications.show({ color: 'green', message: 'KYC decision recorded.' });
      setReason('');
      onDecided();
    }
  }
  return (
    <Card withBorder component="form" onSubmit={submit} aria-label="KYC decision">
      <Stack gap="sm">
        <Title order={4}>Decision on the client ({words(status)})</Title>
        <Group align="flex-end" wrap="wrap">
          <NativeSelect
            label="Decision"
            value={decision}
            onChange={(e) => setDecision(e.currentTarget.value)}
            data={[
              { value: 'approve', label: 'Approve' },
              { value: 'request_more_info', label: 'Request more information' },
              { value: 'reject', label: 'Reject' },
            ]}
          />
          <Textarea
            label="Reason"
            description="Required to reject or to ask for more; the client reads it."
            value={reason}
            onChange={(e) => setReason(e.currentTarget.value)}
            maxLength={1000}
            autosize
            minRows={1}
            w={{ base: '100%', sm: 420 }}
          />
        </Group>
        <ErrorAlert error={decide.error} />
        <Group>
          <Button type="submit" loading={decide.pending}>
            Record decision
          </Button>
        </Group>
      </Stack>
    </Card>
  );
}

// --- money ---------------------------------------------------------------------------------------------------------

export function MoneyTab({ clientId, movementId }: { clientId: string; movementId: string | undefined }) {
  const { can } = useStaff();
  const [page, setPage] = useState(0);
  const { data, error, loading, reload } = useApi<MovementPage>(movementId ? null : '/api/backoffice/movements', {
    clientId,
    limit: PAGE,
    offset: page * PAGE,
  });
  if (movementId) {
    return (
      <Stack gap="sm">
        <To to={`/backoffice/clients/${clientId}/money`}>← All of this client's movements</To>
        <MovementDetail id={movementId} />
      </Stack>
    );
  }
  return (
    <Stack gap="sm">
      {can('funding.request') ? <StaffMovementForm clientId={clientId} /> : null}
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>No deposits, withdrawals or other movements.</Empty> : null}
      {data && data.items.length > 0 ? (
        <MovementTable
          items={data.items}
          linkTo={(m) => `/backoffice/clients/${clientId}/money/${m.id}`}
          label="The client's money movements"
          showClient={false}
        />
      ) : null}
      <Pager page={page} hasNext={data?.next != null} onChange={setPage} />
    </Stack>
  );
}

/**
 * A bonus credit or a manual balance adjustment on one of the client's accounts. It waits for another staff member's
 * approval (maker-checker); the amount is typed as text and parsed in the account's currency, never through a float.
 */
function StaffMovementForm({ clientId }: { clientId: string }) {
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);
  const accounts = useApi<{ items: Account[] }>(open ? '/api/backoffice/accounts' : null, {
    clientId,
    status: 'open',
    limit: 500,
  });
  const [accountId, setAccountId] = useState('');
  const [kind, setKind] = useState<'credit' | 'adjustment'>('credit');
  const [direction, setDirection] = useState<'in' | 'out'>('in');
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  const [amountError, setAmountError] = useState<string>();
  const account = accounts.data?.items.find((a) => a.id === accountId) ?? accounts.data?.items[0];
  const request = useAction(
    useCallback(
      (minor: number) =>
        api.post<{ movement: { id: string } }>(`/api/backoffice/${kind}s`, {
          accountId: account!.id,
          amountMinor: minor,
          direction,
          reason: reason.trim(),
        }),
      [kind, account, direction, reason],
    ),
  );
  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!account) return;
    const parsed = parseMoney(amount, account.currency);
    if ('error' in parsed) {
      setAmountError(parsed.error);
      return;
    }
    setAmountError(undefined);
    const result = await request.run(parsed.minor);
    if (result) {
      notifications.show({ message: `The ${kind} waits for another staff member's approval.` });
      navigate(`/backoffice/clients/${clientId}/money/${result.movement.id}`);
    }
  }
  if (!open) {
    return (
      <Group>
        <Button variant="light" size="xs" onClick={() => setOpen(true)}>
          Request a credit or adjustment…
        </Button>
      </Group>
    );
  }
  return (
    <Card withBorder component="form" onSubmit={submit} aria-label="Request a credit or adjustment">
      <Stack gap="sm">
        <Title order={4}>Request a credit or adjustment</Title>
        <Text size="sm" c="dimmed">
          Another staff member must approve it before it reaches the trading server.
        </Text>
        <ErrorAlert error={accounts.error} onRetry={accounts.reload} />
        {accounts.data && accounts.data.items.length === 0 ? <Empty>The client has no open account.</Empty> : null}
        {account ? (
          <>
            <Group align="flex-end" wrap="wrap">
              <NativeSelect
                label="Account"
                value={account.id}
                onChange={(e) => setAccountId(e.currentTarget.value)}
                data={accounts.data!.items.map((a) => ({
                  value: a.id,
                  label: `${a.login} · ${a.serverCode} · ${a.currency}`,
                }))}
              />
              <NativeSelect
                label="Kind"
                value={kind}
                onChange={(e) => setKind(e.currentTarget.value as 'credit' | 'adjustment')}
                data={[
                  { value: 'credit', label: 'Bonus credit' },
                  { value: 'adjustment', label: 'Balance adjustment' },
                ]}
              />
              <NativeSelect
                label="Direction"
                value={direction}
                onChange={(e) => setDirection(e.currentTarget.value as 'in' | 'out')}
                data={[
                  { value: 'in', label: 'Into the account' },
                  { value: 'out', label: 'Out of the account' },
                ]}
              />
              <TextInput
                label={`Amount (${account.currency})`}
                inputMode="decimal"
                value={amount}
                onChange={(e) => setAmount(e.currentTarget.value)}
                error={amountError}
                w={160}
              />
            </Group>
            <TextInput
              label="Reason"
              value={reason}
              onChange={(e) => setReason(e.currentTarget.value)}
              maxLength={500}
            />
          </>
        ) : null}
        {accounts.loading && !accounts.data ? <Loading /> : null}
        <ErrorAlert error={request.error} />
        <Group>
          <Button type="submit" loading={request.pending} disabled={!account}>
            Request
          </Button>
          <Button variant="default" onClick={() => setOpen(false)}>
            Back
          </Button>
        </Group>
      </Stack>
    </Card>
  );
}

// --- notes ---------------------------------------------------------------------------------------------------------

export function NotesTab({ clientId }: { clientId: string }) {
  const { can } = useStaff();
  const keyset = useKeyset();
  const { data, error, loading, reload } = useApi<{ items: Note[]; next: number | null }>(
    `/api/backoffice/clients/${clientId}/notes`,
    { before: keyset.cursor, limit: PAGE },
  );
  const [text, setText] = useState('');
  const add = useAction(
    useCallback(
      () => api.post<{ note: Note }>(`/api/backoffice/clients/${clientId}/notes`, { text: text.trim() }),
      [clientId, text],
    ),
  );
  async function submit(event: FormEvent) {
    event.preventDefault();
    if (await add.run()) {
      setText('');
      if (keyset.page === 0) reload();
      else keyset.reset();
    }
  }
  return (
    <Stack gap="md">
      {can('clients.manage') ? (
        <Card withBorder component="form" onSubmit={submit} aria-label="Add a note">
          <Stack gap="xs">
            <Textarea
              label="New note"
              description="Notes are kept in the audit trail: they cannot be edited or removed."
              value={text}
              onChange={(e) => setText(e.currentTarget.value)}
              maxLength={2000}
              autosize
              minRows={2}
            />
            <ErrorAlert error={add.error} />
            <Group>
              <Button type="submit" loading={add.pending}>
                Add note
              </Button>
            </Group>
          </Stack>
        </Card>
      ) : null}
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>No notes yet.</Empty> : null}
      <Stack gap="xs" data-testid="notes">
        {data?.items.map((n) => (
          <Card key={n.id} withBorder padding="sm" component="article">
            <Text size="sm" style={{ whiteSpace: 'pre-wrap' }}>
              {n.text}
            </Text>
            <Text size="xs" c="dimmed" mt={4}>
              {n.staffName ?? n.staffId} · <DateTime value={n.at} />
            </Text>
          </Card>
        ))}
      </Stack>
      <Pager page={keyset.page} hasNext={data?.next != null} onChange={(p) => keyset.go(p, data?.next)} />
    </Stack>
  );
}

// --- trading history -------------------------------------------------------------------------------------------------

export function HistoryTab({ clientId }: { clientId: string }) {
  const [page, setPage] = useState(0);
  const [type, setType] = useState('');
  const { data, error, loading, reload } = useApi<{ items: HistoryItem[]; total: number }>(
    `/api/backoffice/clients/${clientId}/history`,
    { type, limit: PAGE, offset: page * PAGE },
  );
  return (
    <Stack gap="sm">
      <Group align="flex-end">
        <NativeSelect
          label="Records"
          value={type}
          onChange={(e) => {
            setType(e.currentTarget.value);
            setPage(0);
          }}
          data={[
            { value: '', label: 'All' },
            { value: 'deal', label: 'Deals (MT5)' },
            { value: 'closed_trade', label: 'Closed trades (MT4)' },
            { value: 'balance', label: 'Balance records' },
            { value: 'order', label: 'Orders (finished)' },
          ]}
        />
        {data ? (
          <Text size="sm" c="dimmed">
            {data.total} record{data.total === 1 ? '' : 's'}
          </Text>
        ) : null}
      </Group>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? (
        <Empty>{type === 'order' ? 'No finished orders synced yet.' : 'No trading history synced yet.'}</Empty>
      ) : null}
      {data && data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={860}>
          <Table striped withTableBorder aria-label="Trading history">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Time</Table.Th>
                <Table.Th>Account</Table.Th>
                <Table.Th>Record</Table.Th>
                <Table.Th>Symbol</Table.Th>
                <Table.Th ta="right">Lots</Table.Th>
                <Table.Th ta="right">Price</Table.Th>
                <Table.Th ta="right">Profit / amount</Table.Th>
                <Table.Th>Comment</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map((h) => (
                <Table.Tr key={h.id}>
                  <Table.Td>
                    <DateTime value={h.time} />
                  </Table.Td>
                  <Table.Td>
                    {h.login} · {h.server}
                  </Table.Td>
                  {h.type === 'order' ? (
                    <>
                      <Table.Td>
                        Order #{h.ticket} {words(h.orderType ?? '')} <StatusBadge status={h.orderState} />
                        <Text size="xs" c="dimmed">
                          placed <DateTime value={h.openTime} />
                          {h.positionId && h.positionId !== '0' ? ` · position #${h.positionId}` : ''}
                        </Text>
                      </Table.Td>
                      <Table.Td>{h.symbol ?? '—'}</Table.Td>
                      <Table.Td ta="right">
                        {h.volumeLots ?? '—'}
                        {h.volumeRemainingLots ? (
                          <Text size="xs" c="dimmed">
                            {h.volumeRemainingLots} left
                          </Text>
                        ) : null}
                      </Table.Td>
                      <Table.Td ta="right">{h.price || '—'}</Table.Td>
                      <Table.Td ta="right">—</Table.Td>
                      <Table.Td>
                        <Text size="xs">{[stopsText(h), h.comment].filter(Boolean).join(' · ')}</Text>
                      </Table.Td>
                    </>
                  ) : (
                    <>
                      <Table.Td>
                        {words(h.type)} #{h.ticket}
                        {h.side ? ` ${h.side}` : ''}
                        {h.entry ? ` ${h.entry}` : ''}
                        {h.balanceKind ? ` (${h.balanceKind})` : ''}
                      </Table.Td>
                      <Table.Td>{h.symbol ?? '—'}</Table.Td>
                      <Table.Td ta="right">{h.volumeLots ?? '—'}</Table.Td>
                      <Table.Td ta="right">{h.closePrice ?? h.price ?? '—'}</Table.Td>
                      <Table.Td ta="right">
                        <Money minor={h.amountMinor ?? h.profitMinor} currency={h.currency} />
                      </Table.Td>
                      <Table.Td>
                        <Text size="xs">{h.reference ?? h.comment}</Text>
                      </Table.Td>
                    </>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <Pager page={page} hasNext={!!data && (page + 1) * PAGE < data.total} onChange={setPage} />
      <OpenOrdersTable clientId={clientId} />
    </Stack>
  );
}

/** "SL 1.08 · TP 1.09" for what is set (0 or null: not set). */
function stopsText(o: { stopLoss: number | null; takeProfit: number | null }): string {
  return [o.stopLoss ? `SL ${o.stopLoss}` : '', o.takeProfit ? `TP ${o.takeProfit}` : ''].filter(Boolean).join(' · ');
}

/** The client's open orders on every server as trade sync last listed them (the API sends all; paged here). */
function OpenOrdersTable({ clientId }: { clientId: string }) {
  const [page, setPage] = useState(0);
  const { data, error, loading, reload } = useApi<{ items: OpenOrder[] }>(`/api/backoffice/clients/${clientId}/orders`);
  const items = data?.items ?? [];
  /** When trade sync last listed them (every order of a server is listed at once). */
  const listedAt = items.reduce<string | null>((at, o) => (at === null || o.updatedAt > at ? o.updatedAt : at), null);
  return (
    <Stack gap="sm" component="section" aria-labelledby="open-orders-title">
      <Group justify="space-between" align="flex-end">
        <Title order={4} id="open-orders-title">
          Open orders
        </Title>
        <Group gap="sm">
          {data ? (
            <Text size="sm" c="dimmed">
              {items.length} open
              {listedAt ? (
                <>
                  {' '}
                  · listed <DateTime value={listedAt} />
                </>
              ) : null}
            </Text>
          ) : null}
          <Button size="xs" variant="default" onClick={reload} loading={loading && !!data}>
            Reload
          </Button>
        </Group>
      </Group>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && items.length === 0 ? <Empty>No open orders on any server.</Empty> : null}
      {items.length > 0 ? (
        <Table.ScrollContainer minWidth={960}>
          <Table striped withTableBorder aria-label="Open orders">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Ticket</Table.Th>
                <Table.Th>Server</Table.Th>
                <Table.Th>Login</Table.Th>
                <Table.Th>Type</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Symbol</Table.Th>
                <Table.Th ta="right">Lots placed</Table.Th>
                <Table.Th ta="right">Lots left</Table.Th>
                <Table.Th ta="right">Price</Table.Th>
                <Table.Th ta="right">SL</Table.Th>
                <Table.Th ta="right">TP</Table.Th>
                <Table.Th>Placed</Table.Th>
                <Table.Th>Expires</Table.Th>
                <Table.Th>Comment</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.slice(page * PAGE, (page + 1) * PAGE).map((o) => (
                <Table.Tr key={`${o.server}:${o.ticket}`}>
                  <Table.Td>#{o.ticket}</Table.Td>
                  <Table.Td>
                    {o.server}{' '}
                    <Badge size="xs" variant="light">
                      {o.platform.toUpperCase()}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{o.login}</Table.Td>
                  <Table.Td>{words(o.orderType)}</Table.Td>
                  <Table.Td>{words(o.state)}</Table.Td>
                  <Table.Td>{o.symbol}</Table.Td>
                  <Table.Td ta="right">{o.volumeLots}</Table.Td>
                  <Table.Td ta="right">{o.volumeRemainingLots}</Table.Td>
                  <Table.Td ta="right">
                    {o.price || '—'}
                    {o.triggerPrice ? (
                      <Text size="xs" c="dimmed">
                        trigger {o.triggerPrice}
                      </Text>
                    ) : null}
                  </Table.Td>
                  <Table.Td ta="right">{o.stopLoss || '—'}</Table.Td>
                  <Table.Td ta="right">{o.takeProfit || '—'}</Table.Td>
                  <Table.Td>
                    <DateTime value={o.setupTime} />
                  </Table.Td>
                  <Table.Td>{o.expiration ? <DateTime value={o.expiration} /> : 'until cancelled'}</Table.Td>
                  <Table.Td>
                    <Text size="xs">{o.comment}</Text>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <Pager page={page} hasNext={(page + 1) * PAGE < items.length} onChange={setPage} />
    </Stack>
  );
}
