/**
 * Back office: external changes, what was done on a trading server without the CRM (balance records made by a
 * dealer, group, leverage or trading moves, accounts the CRM does not know). The review queue (open first, filters,
 * pages) and one change with acknowledge (accepted as the server has it) or explain (why the dealer made it).
 */
import {
  Anchor,
  Breadcrumbs,
  Button,
  Group,
  NativeSelect,
  Paper,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { type FormEvent, useState } from 'react';
import { Route, Routes, useParams, useSearchParams } from 'react-router';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, Money, Pager, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import { Facts, Json, sentence, To, useOffset, words } from '../common.tsx';
import { type ExternalChange, externalChangeKinds } from '../control/types.ts';

const PAGE = 25;

export function ExternalChangesPage() {
  return (
    <Routes>
      <Route index element={<ChangeList />} />
      <Route path=":id" element={<ChangeScreen />} />
    </Routes>
  );
}

const filterKeys = ['status', 'kind', 'serverCode', 'login'] as const;

function ChangeList() {
  const [params, setParams] = useSearchParams();
  const filters = Object.fromEntries(filterKeys.map((k) => [k, params.get(k) ?? ''])) as Record<
    (typeof filterKeys)[number],
    string
  >;
  // The review queue by default: what nobody has looked at yet.
  const status = params.has('status') ? filters.status : 'open';
  const [draft, setDraft] = useState({ serverCode: filters.serverCode, login: filters.login });
  const paging = useOffset(PAGE);
  const { data, error, loading, reload } = useApi<{ items: ExternalChange[]; total: number }>(
    '/api/backoffice/external-changes',
    { ...filters, status, limit: paging.limit, offset: paging.offset },
  );
  function set(change: Partial<typeof filters>) {
    const next = { ...filters, status, ...change };
    setParams(Object.fromEntries(Object.entries(next).filter(([k, v]) => v || k === 'status')));
    paging.reset();
  }
  function submit(event: FormEvent) {
    event.preventDefault();
    set({ serverCode: draft.serverCode.trim(), login: draft.login.trim() });
  }
  return (
    <Stack gap="md">
      <PageTitle>External changes</PageTitle>
      <Text size="sm" c="dimmed">
        Changes made on a trading server without the CRM, found by trade sync. Balance records are already in the
        ledger; each change waits here until someone acknowledges or explains it.
      </Text>
      <form onSubmit={submit} aria-label="Filter external changes">
        <Group align="flex-end" wrap="wrap">
          <NativeSelect
            label="Status"
            value={status}
            onChange={(e) => set({ status: e.currentTarget.value })}
            data={[
              { value: 'open', label: 'Open' },
              { value: 'acknowledged', label: 'Acknowledged' },
              { value: 'explained', label: 'Explained' },
              { value: '', label: 'Any status' },
            ]}
          />
          <NativeSelect
            label="Kind"
            value={filters.kind}
            onChange={(e) => set({ kind: e.currentTarget.value })}
            data={[
              { value: '', label: 'Any kind' },
              ...externalChangeKinds.map((k) => ({ value: k, label: sentence(k) })),
            ]}
          />
          <TextInput
            label="Server"
            placeholder="mt5-live"
            value={draft.serverCode}
            onChange={(e) => setDraft({ ...draft, serverCode: e.currentTarget.value })}
            w={140}
          />
          <TextInput
            label="Login"
            inputMode="numeric"
            value={draft.login}
            onChange={(e) => setDraft({ ...draft, login: e.currentTarget.value })}
            w={120}
          />
          <Button type="submit">Apply</Button>
          <Anchor component="button" type="button" size="sm" onClick={reload}>
            Refresh
          </Anchor>
        </Group>
      </form>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data ? (
        <Text size="sm" c="dimmed" aria-live="polite">
          {data.total} change{data.total === 1 ? '' : 's'}
        </Text>
      ) : null}
      {data && data.items.length === 0 ? <Empty>No external changes match.</Empty> : null}
      {data && data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={860}>
          <Table striped highlightOnHover withTableBorder aria-label="External changes" data-testid="changes-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Kind</Table.Th>
                <Table.Th>Server · login</Table.Th>
                <Table.Th>Change</Table.Th>
                <Table.Th>On the server</Table.Th>
                <Table.Th>Status</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map((c) => (
                <Table.Tr key={c.id} data-change={c.id}>
                  <Table.Td>
                    <To to={`/backoffice/external-changes/${c.id}`}>{sentence(c.kind)}</To>
                  </Table.Td>
                  <Table.Td>
                    {c.serverCode} · {c.login}
                  </Table.Td>
                  <Table.Td maw={320}>
                    <ChangeSummary c={c} />
                  </Table.Td>
                  <Table.Td>
                    <DateTime value={c.occurredAt} />
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={c.status} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <Pager
        page={paging.page}
        hasNext={data ? paging.offset + data.items.length < data.total : false}
        onChange={paging.setPage}
      />
    </Stack>
  );
}

/** A change in a few words: the amount of a balance record, or the value before and after. */
function ChangeSummary({ c }: { c: ExternalChange }) {
  if (c.kind === 'balance_record' && c.amountMinor !== null && c.currency) {
    return (
      <Text size="sm">
        {words(c.recordKind) || 'balance'} <Money minor={c.amountMinor} currency={c.currency} />
        {c.ticket ? ` · ticket ${c.ticket}` : ''}
        {c.comment ? ` · “${c.comment}”` : ''}
      </Text>
    );
  }
  const show = (v: unknown) =>
    v === null || v === undefined
      ? '—'
      : typeof v === 'object'
        ? Object.entries(v as Record<string, unknown>)
            .map(([k, x]) => `${k}: ${String(x)}`)
            .join(', ')
        : String(v);
  return (
    <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
      {show(c.before)} → {show(c.after)}
    </Text>
  );
}

function ChangeScreen() {
  const { id } = useParams();
  const { can } = useStaff();
  const { data, error, loading, reload } = useApi<{ change: ExternalChange }>(`/api/backoffice/external-changes/${id}`);
  const c = data?.change;
  return (
    <Stack gap="sm">
      <Breadcrumbs>
        <To to="/backoffice/external-changes">External changes</To>
        <Text size="sm">Change</Text>
      </Breadcrumbs>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {c ? (
        <Stack gap="md">
          <Group justify="space-between">
            <Title order={2}>
              {sentence(c.kind)} on {c.serverCode} · {c.login}
            </Title>
            <StatusBadge status={c.status} />
          </Group>
          <Paper withBorder p="sm">
            <Facts
              items={[
                ['Change', <ChangeSummary key="s" c={c} />],
                ['On the server', <DateTime key="o" value={c.occurredAt} />],
                ['Detected', <DateTime key="d" value={c.detectedAt} />],
                [
                  'Client',
                  c.clientId ? (
                    <To key="c" to={`/backoffice/clients/${c.clientId}`}>
                      Open client
                    </To>
                  ) : (
                    'not known to the CRM'
                  ),
                ],
                ['Ticket', c.ticket],
                ['Comment on the server', c.comment],
                ['Booked in the ledger', c.ledgerTransactionId ? 'yes' : 'no'],
                ['Reviewed', c.reviewedAt ? <DateTime key="r" value={c.reviewedAt} /> : null],
                ['Review note', c.reviewNote],
              ]}
            />
            <Json value={c.details} />
          </Paper>
          {c.status === 'open' && can('external_changes.review') ? <Review change={c} onDone={reload} /> : null}
          {c.status === 'open' && !can('external_changes.review') ? (
            <Text size="sm" c="dimmed">
              Your roles may read external changes but not review them.
            </Text>
          ) : null}
        </Stack>
      ) : null}
    </Stack>
  );
}

function Review({ change, onDone }: { change: ExternalChange; onDone: () => void }) {
  const [note, setNote] = useState('');
  const [explanation, setExplanation] = useState('');
  const acknowledge = useAction((n: string) =>
    api.post(`/api/backoffice/external-changes/${change.id}/acknowledge`, n.trim() ? { note: n.trim() } : {}),
  );
  const explain = useAction((text: string) =>
    api.post(`/api/backoffice/external-changes/${change.id}/explain`, { explanation: text }),
  );
  async function submitAck(event: FormEvent) {
    event.preventDefault();
    if (await acknowledge.run(note)) {
      notifications.show({ color: 'green', message: 'Acknowledged.' });
      onDone();
    }
  }
  async function submitExplain(event: FormEvent) {
    event.preventDefault();
    if (await explain.run(explanation)) {
      notifications.show({ color: 'green', message: 'Explained.' });
      onDone();
    }
  }
  return (
    <Group align="flex-start" grow wrap="wrap">
      <Paper withBorder p="sm" miw={280}>
        <form onSubmit={submitAck} aria-label="Acknowledge the change">
          <Stack gap="xs">
            <Text fw={600} size="sm">
              Acknowledge
            </Text>
            <Text size="xs" c="dimmed">
              Seen, and accepted as the server has it.
            </Text>
            <Textarea label="Note (optional)" value={note} onChange={(e) => setNote(e.currentTarget.value)} autosize />
            <Group>
              <Button type="submit" variant="light" loading={acknowledge.pending}>
                Acknowledge
              </Button>
            </Group>
            <ErrorAlert error={acknowledge.error} />
          </Stack>
        </form>
      </Paper>
      <Paper withBorder p="sm" miw={280}>
        <form onSubmit={submitExplain} aria-label="Explain the change">
          <Stack gap="xs">
            <Text fw={600} size="sm">
              Explain
            </Text>
            <Text size="xs" c="dimmed">
              Why the dealer made it, e.g. the ticket of the request.
            </Text>
            <Textarea
              label="Explanation"
              value={explanation}
              onChange={(e) => setExplanation(e.currentTarget.value)}
              autosize
              required
            />
            <Group>
              <Button type="submit" variant="light" loading={explain.pending}>
                Explain
              </Button>
            </Group>
            <ErrorAlert error={explain.error} />
          </Stack>
        </form>
      </Paper>
    </Group>
  );
}
