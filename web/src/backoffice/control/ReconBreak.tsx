/**
 * One reconciliation break with everything that explains it (the movement, the operation and its attempt log, the
 * server's records, the PSP's lines, the external change, the runs that saw it) and its resolution: retry the
 * operation with the same reference, link an external change, or write off with a reason (maker-checker: one staff
 * member asks, another approves or rejects). Every refusal is shown in the API's words.
 */
import { Alert, Badge, Button, Group, NativeSelect, Paper, Stack, Table, Text, Textarea, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { type FormEvent, type ReactNode, useState } from 'react';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, Money, StatusBadge } from '../../ui/components.tsx';
import { formatMoney } from '../../ui/money.ts';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import { Facts, Json, sentence, To, words } from '../common.tsx';
import type { BreakDetail, ExternalChange, ReconBreak, WriteOff } from './types.ts';

type Detail = BreakDetail & { staffNames: Record<string, string> };

/** Break classes a change made on a server can explain (the API refuses the others and PSP breaks). */
const LINKABLE = new Set(['server_not_in_crm', 'balance_drift', 'amount_mismatch', 'duplicate']);
/** Operation statuses the API retries (with the same reference, looked up on the server first). */
const RETRYABLE = new Set(['needs_review', 'failed']);

function Section({ title, children, testId }: { title: string; children: ReactNode; testId?: string }) {
  return (
    <Paper withBorder p="sm" component="section" aria-label={title} data-testid={testId}>
      <Title order={3} size="h5" mb="xs">
        {title}
      </Title>
      {children}
    </Paper>
  );
}

export function BreakScreen({ id }: { id: string }) {
  const { data, error, loading, reload } = useApi<Detail>(`/api/backoffice/recon/breaks/${id}`);
  if (error && !data) return <ErrorAlert error={error} onRetry={reload} />;
  if (loading && !data) return <Loading />;
  if (!data) return null;
  const b = data.break;
  const name = (staffId: string | null | undefined) => (staffId ? (data.staffNames[staffId] ?? staffId) : '—');
  const money = (minor: number | null) => (b.currency ? <Money minor={minor} currency={b.currency} /> : '—');
  return (
    <Stack gap="md">
      <Group justify="space-between" wrap="wrap">
        <Stack gap={0}>
          <Title order={2}>{sentence(b.class)}</Title>
          <Text size="xs" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
            {b.key}
          </Text>
        </Stack>
        <Group gap="xs" data-testid="break-status">
          <StatusBadge status={b.status} />
          {b.resolution ? <Badge variant="outline">{words(b.resolution)}</Badge> : null}
        </Group>
      </Group>
      <ErrorAlert error={error} onRetry={reload} />
      {b.status === 'resolved' ? (
        <Alert color="green" title="Resolved" data-testid="break-resolved">
          {words(b.resolution)} <DateTime value={b.resolvedAt} />
          {b.resolvedBy ? ` by ${name(b.resolvedBy)}` : ''}
          {b.resolutionNote ? ` — ${b.resolutionNote}` : ''}
        </Alert>
      ) : null}
      <Paper withBorder p="sm">
        <Facts
          items={[
            [
              'Found by comparing',
              b.side === 'psp' ? 'CRM and PSP' : b.side === 'account' ? 'ledger and account balance' : 'CRM and server',
            ],
            ['Server · login', b.serverCode ? `${b.serverCode}${b.login ? ` · ${b.login}` : ''}` : null],
            [
              'Client',
              b.clientId ? (
                <To key="c" to={`/backoffice/clients/${b.clientId}`}>
                  Open client
                </To>
              ) : null,
            ],
            [
              'Money movement',
              b.movementId ? (
                <To key="m" to={`/backoffice/movements/${b.movementId}`}>
                  {data.movement ? `${words(data.movement.kind)} · ${words(data.movement.status)}` : 'Open movement'}
                </To>
              ) : null,
            ],
            [
              'Operation',
              b.operationId ? (
                <To
                  key="o"
                  to={`/backoffice/operations/${b.operationId}`}
                  label="Open the operation and its attempt log"
                >
                  {data.operation?.reference ?? b.reference ?? 'Open operation'}
                </To>
              ) : (
                b.reference
              ),
            ],
            ['PSP record', b.psp ? `${b.psp}${b.pspTransactionId ? ` · ${b.pspTransactionId}` : ''}` : null],
            ['CRM amount', money(b.crmAmountMinor)],
            ['Other source', money(b.otherAmountMinor)],
            ['Difference', money(b.differenceMinor)],
            ['About', <DateTime key="s" value={b.subjectAt} />],
            ['First seen', <DateTime key="f" value={b.firstSeenAt} />],
            [
              'Last seen',
              <>
                <DateTime value={b.lastSeenAt} /> ({b.timesSeen}×)
              </>,
            ],
          ]}
        />
        <Json value={b.details} summary="What the run recorded" />
      </Paper>

      {b.status === 'open' ? <Resolution detail={data} name={name} onChanged={reload} /> : null}

      {data.writeOffs.length > 0 ? (
        <Section title="Write-offs" testId="write-offs">
          <Stack gap="xs">
            {data.writeOffs.map((w) => (
              <WriteOffLine key={w.id} w={w} name={name} />
            ))}
          </Stack>
        </Section>
      ) : null}

      <Section title="Resolution trail" testId="break-events">
        {data.events.length === 0 ? (
          <Empty>Nothing yet.</Empty>
        ) : (
          <Table.ScrollContainer minWidth={560}>
            <Table withTableBorder fz="sm" aria-label="Resolution trail">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>When</Table.Th>
                  <Table.Th>What</Table.Th>
                  <Table.Th>Who</Table.Th>
                  <Table.Th>Details</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.events.map((e) => (
                  <Table.Tr key={e.id} data-action={e.action}>
                    <Table.Td>
                      <DateTime value={e.at} />
                    </Table.Td>
                    <Table.Td>{sentence(e.action)}</Table.Td>
                    <Table.Td>{e.actorType === 'system' ? 'reconciliation' : name(e.actorId)}</Table.Td>
                    <Table.Td>
                      <Json value={e.details} />
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Section>

      {data.operation ? (
        <Section title={`Operation ${data.operation.reference}: attempt log`} testId="attempt-log">
          <Group gap="xs" mb="xs">
            <StatusBadge status={data.operation.status} />
            <Text size="sm">
              {words(data.operation.kind)} on {data.operation.serverCode}
              {data.operation.login ? ` · ${data.operation.login}` : ''}, {data.operation.attempts} attempts
            </Text>
            <To to={`/backoffice/operations/${data.operation.id}`}>Open the operation</To>
          </Group>
          {data.attempts.length === 0 ? (
            <Empty>No call to the server yet.</Empty>
          ) : (
            <Table.ScrollContainer minWidth={560}>
              <Table withTableBorder fz="sm" aria-label="Attempt log">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>When</Table.Th>
                    <Table.Th>Attempt</Table.Th>
                    <Table.Th>Outcome</Table.Th>
                    <Table.Th>Server said</Table.Th>
                    <Table.Th ta="right">ms</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {data.attempts.map((a) => (
                    <Table.Tr key={a.id}>
                      <Table.Td>
                        <DateTime value={a.startedAt} />
                      </Table.Td>
                      <Table.Td>
                        {a.attempt} · {a.action}
                      </Table.Td>
                      <Table.Td>{words(a.outcome)}</Table.Td>
                      <Table.Td>
                        {a.code !== null ? `${a.code} ` : ''}
                        {a.serverText ?? ''}
                      </Table.Td>
                      <Table.Td ta="right">{a.durationMs}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
        </Section>
      ) : null}

      {data.records.length > 0 ? (
        <Section title="Records on the server" testId="server-records">
          <Table.ScrollContainer minWidth={560}>
            <Table withTableBorder fz="sm" aria-label="Records on the server">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Ticket</Table.Th>
                  <Table.Th>Time</Table.Th>
                  <Table.Th>Kind</Table.Th>
                  <Table.Th ta="right">Amount</Table.Th>
                  <Table.Th>Comment</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.records.map((r) => (
                  <Table.Tr key={r.id}>
                    <Table.Td>{r.ticket}</Table.Td>
                    <Table.Td>
                      <DateTime value={r.time} />
                    </Table.Td>
                    <Table.Td>{r.balanceKind ?? r.recordType}</Table.Td>
                    <Table.Td ta="right">{money(r.amountMinor)}</Table.Td>
                    <Table.Td>{r.comment}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Section>
      ) : null}

      {data.pspLines.length > 0 ? (
        <Section title="The PSP's settlement lines" testId="psp-lines">
          <Table.ScrollContainer minWidth={560}>
            <Table withTableBorder fz="sm" aria-label="PSP settlement lines">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Transaction</Table.Th>
                  <Table.Th>Type</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th ta="right">Amount</Table.Th>
                  <Table.Th>When</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.pspLines.map((l) => (
                  <Table.Tr key={l.id}>
                    <Table.Td style={{ overflowWrap: 'anywhere' }}>{l.pspTransactionId}</Table.Td>
                    <Table.Td>{l.type}</Table.Td>
                    <Table.Td>{l.status}</Table.Td>
                    <Table.Td ta="right">
                      <Money minor={l.amountMinor} currency={l.currency} />
                    </Table.Td>
                    <Table.Td>
                      <DateTime value={l.occurredAt} />
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Section>
      ) : null}

      {data.externalChange ? (
        <Section title="External change" testId="external-change">
          <Group gap="xs">
            <StatusBadge status={data.externalChange.status} />
            <To to={`/backoffice/external-changes/${data.externalChange.id}`}>
              {sentence(data.externalChange.kind)} on {data.externalChange.serverCode} · {data.externalChange.login}
              {data.externalChange.ticket ? ` (ticket ${data.externalChange.ticket})` : ''}
            </To>
          </Group>
        </Section>
      ) : null}

      {data.sightings.length > 0 ? (
        <Section title="Runs that saw it">
          <Group gap="xs" wrap="wrap">
            {data.sightings.map((s) => (
              <To key={s.runId} to={`/backoffice/reconciliation/runs/${s.runId}`}>
                {s.businessDate}
                {s.isNew ? ' (new)' : ''}
              </To>
            ))}
          </Group>
        </Section>
      ) : null}
    </Stack>
  );
}

function WriteOffLine({ w, name }: { w: WriteOff; name: (id: string | null) => string }) {
  return (
    <Paper withBorder p="xs" data-write-off={w.id} data-status={w.status}>
      <Group gap="xs" wrap="wrap">
        <StatusBadge status={w.status === 'requested' ? 'pending_approval' : w.status} />
        <Money minor={w.amountMinor} currency={w.currency} />
        <Text size="sm">
          asked by {name(w.requestedBy)} <DateTime value={w.requestedAt} />
        </Text>
        {w.decidedBy ? (
          <Text size="sm">
            · {w.status} by {name(w.decidedBy)} <DateTime value={w.decidedAt} />
          </Text>
        ) : null}
      </Group>
      <Text size="sm" mt={4}>
        Reason: {w.reason}
      </Text>
      {w.decisionComment ? <Text size="sm">Decision: {w.decisionComment}</Text> : null}
    </Paper>
  );
}

function notify(message: string) {
  notifications.show({ color: 'green', message });
}

/** The actions on an open break, each shown to the roles that may take it. */
function Resolution({
  detail,
  name,
  onChanged,
}: {
  detail: Detail;
  name: (id: string | null) => string;
  onChanged: () => void;
}) {
  const { me, can } = useStaff();
  const b = detail.break;
  const pending = detail.writeOffs.find((w) => w.status === 'requested');
  const resolve = can('recon.resolve');
  const approve = can('recon.writeoff.approve');
  if (!resolve && !(approve && pending)) {
    return (
      <Text size="sm" c="dimmed">
        Your roles may read this break but not resolve it.
      </Text>
    );
  }
  return (
    <Section title="Resolve" testId="resolve">
      <Stack gap="md">
        {pending ? (
          <Decide
            writeOff={pending}
            mine={pending.requestedBy === me.staff.id}
            may={approve}
            name={name}
            onDone={onChanged}
          />
        ) : null}
        {resolve && b.operationId ? (
          detail.operation && RETRYABLE.has(detail.operation.status) ? (
            <Retry b={b} detail={detail} onDone={onChanged} />
          ) : (
            <Text size="sm" c="dimmed" data-testid="retry-not-applicable">
              Operation {detail.operation?.reference ?? b.reference} is {words(detail.operation?.status) || 'gone'}:
              only a needs-review or failed operation is retried (a pending one runs by itself).
            </Text>
          )
        ) : null}
        {resolve && LINKABLE.has(b.class) && b.side !== 'psp' ? <LinkChange b={b} onDone={onChanged} /> : null}
        {resolve && !pending && b.class !== 'missing_on_server' ? <AskWriteOff b={b} onDone={onChanged} /> : null}
        {resolve && b.class === 'missing_on_server' ? (
          <Text size="sm" c="dimmed">
            The money has not reached the server: retry the operation (same reference) or cancel the movement; it is not
            written off.
          </Text>
        ) : null}
      </Stack>
    </Section>
  );
}

function Retry({ b, detail, onDone }: { b: ReconBreak; detail: Detail; onDone: () => void }) {
  const action = useAction(() => api.post(`/api/backoffice/recon/breaks/${b.id}/retry`));
  const status = detail.operation?.status;
  return (
    <Stack gap={4}>
      <Group gap="sm" wrap="wrap">
        <Button
          variant="light"
          loading={action.pending}
          onClick={async () => {
            if (await action.run()) {
              notify('Retry requested: the server is asked first, then the operation is sent with the same reference.');
              onDone();
            }
          }}
        >
          Retry with the same reference
        </Button>
        <Text size="xs" c="dimmed">
          Operation {detail.operation?.reference ?? b.reference} is {words(status) || 'unknown'}; the next run clears
          the break once the server has the record.
        </Text>
      </Group>
      <ErrorAlert error={action.error} />
    </Stack>
  );
}

function LinkChange({ b, onDone }: { b: ReconBreak; onDone: () => void }) {
  const { can } = useStaff();
  const changes = useApi<{ items: ExternalChange[] }>(
    can('external_changes.read') && b.serverCode && b.login ? '/api/backoffice/external-changes' : null,
    { serverCode: b.serverCode, login: b.login, limit: 50 },
  );
  const [changeId, setChangeId] = useState(b.externalChangeId ?? '');
  const [note, setNote] = useState('');
  const action = useAction((body: { externalChangeId?: string; note: string }) =>
    api.post(`/api/backoffice/recon/breaks/${b.id}/link-external-change`, body),
  );
  async function submit(event: FormEvent) {
    event.preventDefault();
    if (await action.run({ ...(changeId ? { externalChangeId: changeId } : {}), note })) {
      notify('Linked: the break is resolved as explained by the change on the server.');
      onDone();
    }
  }
  const options = changes.data?.items ?? [];
  return (
    <form onSubmit={submit} aria-label="Link an external change">
      <Stack gap="xs">
        <Text size="sm" fw={600}>
          Explained by a change on the server
        </Text>
        <NativeSelect
          label="External change"
          value={changeId}
          onChange={(e) => setChangeId(e.currentTarget.value)}
          data={[
            { value: '', label: b.externalChangeId ? 'The one the run found' : 'Choose a change on this account' },
            ...options.map((c) => ({
              value: c.id,
              label: `${words(c.kind)}${c.ticket ? ` #${c.ticket}` : ''} · ${new Date(c.occurredAt).toLocaleString('en-GB')}${
                c.amountMinor !== null && c.currency ? ` · ${formatMoney(c.amountMinor, c.currency)}` : ''
              }`,
            })),
          ]}
        />
        {changes.error ? (
          <Text size="xs" c="red">
            {changes.error}
          </Text>
        ) : null}
        <Textarea
          label="Note"
          description="Why this change explains the break"
          value={note}
          onChange={(e) => setNote(e.currentTarget.value)}
          autosize
          minRows={2}
          required
        />
        <Group>
          <Button type="submit" variant="light" loading={action.pending}>
            Link and resolve
          </Button>
        </Group>
        <ErrorAlert error={action.error} />
      </Stack>
    </form>
  );
}

function AskWriteOff({ b, onDone }: { b: ReconBreak; onDone: () => void }) {
  const [reason, setReason] = useState('');
  const action = useAction((r: string) => api.post(`/api/backoffice/recon/breaks/${b.id}/write-offs`, { reason: r }));
  async function submit(event: FormEvent) {
    event.preventDefault();
    if (await action.run(reason)) {
      notify('Write-off requested: another staff member must approve it.');
      setReason('');
      onDone();
    }
  }
  return (
    <form onSubmit={submit} aria-label="Ask to write off">
      <Stack gap="xs">
        <Text size="sm" fw={600}>
          Write off the difference
          {b.currency && b.differenceMinor !== null ? (
            <>
              {' '}
              (<Money minor={b.differenceMinor} currency={b.currency} />)
            </>
          ) : null}
        </Text>
        <Textarea
          label="Reason"
          description="Another staff member reads this before approving"
          value={reason}
          onChange={(e) => setReason(e.currentTarget.value)}
          autosize
          minRows={2}
          required
        />
        <Group>
          <Button type="submit" variant="light" color="orange" loading={action.pending}>
            Request write-off
          </Button>
        </Group>
        <ErrorAlert error={action.error} />
      </Stack>
    </form>
  );
}

function Decide({
  writeOff,
  mine,
  may,
  name,
  onDone,
}: {
  writeOff: WriteOff;
  mine: boolean;
  may: boolean;
  name: (id: string | null) => string;
  onDone: () => void;
}) {
  const [comment, setComment] = useState('');
  const action = useAction((decision: 'approve' | 'reject') =>
    api.post(`/api/backoffice/recon/write-offs/${writeOff.id}/decision`, {
      decision,
      ...(comment.trim() ? { comment: comment.trim() } : {}),
    }),
  );
  async function decide(decision: 'approve' | 'reject') {
    if (await action.run(decision)) {
      notify(decision === 'approve' ? 'Approved: the write-off is posted and the break resolved.' : 'Rejected.');
      onDone();
    }
  }
  return (
    <Stack gap="xs" data-testid="write-off-decision">
      <Text size="sm" fw={600}>
        Write-off of <Money minor={writeOff.amountMinor} currency={writeOff.currency} /> asked by{' '}
        {mine ? 'you' : name(writeOff.requestedBy)}
      </Text>
      <Text size="sm">Reason: {writeOff.reason}</Text>
      {mine ? (
        <Text size="sm" c="orange" data-testid="second-approver-needed">
          Waiting for a second, different staff member to approve or reject it.
        </Text>
      ) : null}
      {may ? (
        <>
          <Textarea
            label="Comment"
            description="Required to reject"
            value={comment}
            onChange={(e) => setComment(e.currentTarget.value)}
            autosize
            minRows={1}
          />
          <Group>
            <Button color="green" loading={action.pending} onClick={() => decide('approve')}>
              Approve write-off
            </Button>
            <Button color="red" variant="light" loading={action.pending} onClick={() => decide('reject')}>
              Reject write-off
            </Button>
          </Group>
        </>
      ) : (
        <Text size="sm" c="dimmed">
          Your roles may not decide write-offs.
        </Text>
      )}
      <ErrorAlert error={action.error} />
    </Stack>
  );
}
