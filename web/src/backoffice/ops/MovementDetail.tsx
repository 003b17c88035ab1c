/**
 * One money movement for staff: what it is and where it stands, maker-checker in plain view (who asked, who approved,
 * how many approvals it needs, the decision form), the server operations made for it, its whole timeline (PSP
 * webhooks, every server attempt, state changes) and its ledger entries.
 */
import { Alert, Badge, Button, Card, Group, Progress, Stack, Table, Text, Textarea, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useCallback, useState } from 'react';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, Money, StatusBadge } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import { Facts, Json, sentence, To, words } from '../common.tsx';
import { useRefreshWhile } from './bits.tsx';
import { awaitingDecision, type Movement, type MovementDetailBody, type TimelineEntry } from './types.ts';

/** Statuses after which nothing more happens to a movement by itself. */
const settled = [
  'posted',
  'completed',
  'returned',
  'refunded',
  'charged_back',
  'rejected',
  'cancelled',
  'failed',
  'payment_failed',
  'reversal_failed',
  'posting_failed',
  'payout_failed',
];

const sourceColors: Record<TimelineEntry['source'], string> = {
  client: 'blue',
  staff: 'grape',
  psp: 'teal',
  crm: 'gray',
  server: 'orange',
};

function destinationText(destination: Movement['destination']): string | null {
  if (!destination) return null;
  if (destination.type === 'card') return `card ending ${String(destination.last4)}`;
  if (destination.type === 'bank_account') return `bank account ${String(destination.iban)}`;
  if (destination.creditExpiresAt)
    return `credit expires ${new Date(String(destination.creditExpiresAt)).toLocaleString('en-GB')}`;
  return null;
}

export function MovementDetail({ id }: { id: string }) {
  const { data, error, loading, reload } = useApi<MovementDetailBody>(`/api/backoffice/movements/${id}`);
  useRefreshWhile(
    !!data && !settled.includes(data.movement.status) && !awaitingDecision.includes(data.movement.status),
    reload,
  );

  if (error && !data) return <ErrorAlert error={error} onRetry={reload} />;
  if (!data) return <Loading />;
  const m = data.movement;
  return (
    <Stack gap="md" data-testid="movement-detail">
      <Group justify="space-between" align="flex-start" wrap="wrap">
        <Stack gap={4}>
          <Title order={3}>
            {sentence(m.kind)} of <Money minor={m.amountMinor} currency={m.currency} />
          </Title>
          <Text size="sm" data-testid="movement-summary">
            {data.summary}
          </Text>
        </Stack>
        <Group gap="xs">
          <span data-testid="movement-status">
            <StatusBadge status={m.status} />
          </span>
          <Button size="xs" variant="default" onClick={reload} loading={loading}>
            Refresh
          </Button>
        </Group>
      </Group>
      {error ? <ErrorAlert error={error} onRetry={reload} /> : null}
      <Card withBorder>
        <Facts
          items={[
            [
              'Client',
              <To key="c" to={`/backoffice/clients/${m.clientId}/profile`}>
                {m.clientName ?? m.clientId}
              </To>,
            ],
            ['Account', m.login ? `${m.login} on ${m.serverCode}` : m.tradingAccountId],
            ['Direction', m.direction === 'in' ? 'into the trading account' : 'out of the trading account'],
            ['Created', <DateTime key="cr" value={m.createdAt} />],
            ['Last change', <DateTime key="up" value={m.updatedAt} />],
            ['Completed', m.completedAt ? <DateTime key="co" value={m.completedAt} /> : null],
            ['Server ticket', m.ticket],
            ['PSP payment', m.pspPaymentId],
            ['PSP payout', m.pspPayoutId],
            ['Destination', destinationText(m.destination)],
            ['Reason', m.reason],
            ['Failure', m.failureReason],
            [
              'Transfer',
              m.counterAmountMinor !== null && m.counterCurrency ? (
                <span key="tr">
                  <Money minor={m.counterAmountMinor} currency={m.counterCurrency} /> at {m.fxRate}
                </span>
              ) : null,
            ],
            ['Refunded', m.refundedMinor ? <Money key="rf" minor={m.refundedMinor} currency={m.currency} /> : null],
            ['Movement id', m.id],
          ]}
        />
      </Card>
      {data.approvalsRequired > 0 ? <MakerChecker data={data} onDecided={reload} /> : null}
      <OperationsCard operations={data.operations} />
      <Timeline entries={data.entries} />
      <LedgerCard data={data} />
    </Stack>
  );
}

function MakerChecker({ data, onDecided }: { data: MovementDetailBody; onDecided: () => void }) {
  const { me, can } = useStaff();
  const m = data.movement;
  const [comment, setComment] = useState('');
  const decide = useCallback(
    (decision: 'approve' | 'reject') =>
      api.post<{ movement: Movement }>(`/api/backoffice/movements/${m.id}/decision`, {
        decision,
        ...(comment.trim() ? { comment: comment.trim() } : {}),
      }),
    [m.id, comment],
  );
  const action = useAction(decide);
  const approved = data.approvals.filter((a) => a.decision === 'approve').length;
  const waiting = awaitingDecision.includes(m.status);
  const iAmMaker = m.requestedByType === 'staff' && m.requestedById === me.staff.id;
  const iApproved = data.approvals.some((a) => a.staffId === me.staff.id);

  async function submit(decision: 'approve' | 'reject') {
    const result = await action.run(decision);
    if (result) {
      notifications.show({
        color: decision === 'approve' ? 'green' : 'gray',
        message: `${decision === 'approve' ? 'Approved' : 'Rejected'}: the ${m.kind} is now ${words(result.movement.status)}.`,
      });
      setComment('');
      onDecided();
    }
  }

  return (
    <Card withBorder data-testid="maker-checker">
      <Stack gap="sm">
        <Group justify="space-between" wrap="wrap">
          <Title order={4}>Maker-checker</Title>
          <Badge
            variant="light"
            color={approved >= data.approvalsRequired ? 'green' : 'yellow'}
            data-testid="approval-count"
          >
            {approved} of {data.approvalsRequired} approval{data.approvalsRequired === 1 ? '' : 's'}
          </Badge>
        </Group>
        <Progress
          value={(Math.min(approved, data.approvalsRequired) / data.approvalsRequired) * 100}
          aria-label={`${approved} of ${data.approvalsRequired} approvals`}
        />
        <Text size="sm">
          Requested by{' '}
          <strong data-testid="requested-by">
            {m.requestedByType === 'client'
              ? `the client (${m.clientName ?? m.clientId})`
              : `${m.requestedByName ?? m.requestedById} (staff)`}
          </strong>{' '}
          on <DateTime value={m.createdAt} />.
          {data.approvalsRequired === 2
            ? ' This amount is at or above the dual-approval threshold: two different approvers are needed.'
            : ' One approver, other than the person who asked, is needed.'}
        </Text>
        {data.approvals.length === 0 ? (
          <Text size="sm" c="dimmed">
            No decision yet.
          </Text>
        ) : (
          <Table withTableBorder aria-label="Decisions" data-testid="approvals">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Who</Table.Th>
                <Table.Th>Decision</Table.Th>
                <Table.Th>When</Table.Th>
                <Table.Th>Comment</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.approvals.map((a) => (
                <Table.Tr key={a.id}>
                  <Table.Td>{a.staffName ?? a.staffId}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={a.decision === 'approve' ? 'approved' : 'rejected'} />
                  </Table.Td>
                  <Table.Td>
                    <DateTime value={a.at} />
                  </Table.Td>
                  <Table.Td>{a.comment ?? '—'}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        {m.status === 'awaiting_second_approval' ? (
          <Alert color="yellow" title="Second approval needed" data-testid="second-approval-needed">
            A second finance approver, different from the first, must approve before any money moves.
          </Alert>
        ) : null}
        {waiting && can('funding.approve') ? (
          <Stack gap="xs">
            {iAmMaker ? (
              <Text size="sm" c="orange">
                You made this request: another staff member must decide on it.
              </Text>
            ) : null}
            {iApproved ? (
              <Text size="sm" c="orange">
                You have already approved this request.
              </Text>
            ) : null}
            <Textarea
              label="Comment"
              description="Optional when approving; required to reject (say why)."
              value={comment}
              onChange={(e) => setComment(e.currentTarget.value)}
              maxLength={500}
              autosize
              minRows={2}
            />
            <ErrorAlert error={action.error} />
            <Group>
              <Button color="green" onClick={() => submit('approve')} loading={action.pending}>
                Approve
              </Button>
              <Button color="red" variant="light" onClick={() => submit('reject')} loading={action.pending}>
                Reject
              </Button>
            </Group>
          </Stack>
        ) : null}
        {waiting && !can('funding.approve') ? (
          <Text size="sm" c="dimmed">
            Waiting for a decision by finance.
          </Text>
        ) : null}
      </Stack>
    </Card>
  );
}

function OperationsCard({ operations }: { operations: MovementDetailBody['operations'] }) {
  const { can } = useStaff();
  if (operations.length === 0) return null;
  return (
    <Card withBorder>
      <Title order={4} mb="xs">
        Server operations
      </Title>
      <Table.ScrollContainer minWidth={480}>
        <Table aria-label="Server operations" data-testid="movement-operations">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Reference</Table.Th>
              <Table.Th>Kind</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th ta="right">Attempts</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {operations.map((op) => (
              <Table.Tr key={op.id}>
                <Table.Td>
                  {can('operations.read') ? (
                    <To to={`/backoffice/operations/${op.id}`}>{op.reference}</To>
                  ) : (
                    op.reference
                  )}
                </Table.Td>
                <Table.Td>{words(op.kind)}</Table.Td>
                <Table.Td>
                  <StatusBadge status={op.status} />
                </Table.Td>
                <Table.Td ta="right">{op.attempts}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Card>
  );
}

export function Timeline({ entries }: { entries: TimelineEntry[] }) {
  return (
    <Card withBorder>
      <Title order={4} mb="xs">
        Timeline
      </Title>
      {entries.length === 0 ? (
        <Empty>Nothing has happened yet.</Empty>
      ) : (
        <Table.ScrollContainer minWidth={560}>
          <Table aria-label="Timeline" data-testid="timeline" verticalSpacing="xs">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>When</Table.Th>
                <Table.Th w={96}>From</Table.Th>
                <Table.Th>What happened</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {entries.map((e, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: entries have no id; their order is fixed by the API.
                <Table.Tr key={i} data-type={e.type}>
                  <Table.Td valign="top">
                    <DateTime value={e.at} />
                  </Table.Td>
                  <Table.Td valign="top">
                    <Badge variant="light" color={sourceColors[e.source] ?? 'gray'}>
                      {e.source}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{e.message}</Text>
                    <Text size="xs" c="dimmed">
                      {e.type}
                    </Text>
                    <Json value={e.details} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Card>
  );
}

function LedgerCard({ data }: { data: MovementDetailBody }) {
  if (data.ledger.length === 0) return null;
  return (
    <Card withBorder>
      <Title order={4} mb="xs">
        Ledger entries
      </Title>
      <Table.ScrollContainer minWidth={520}>
        <Table aria-label="Ledger entries" data-testid="ledger">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>When</Table.Th>
              <Table.Th>Posting</Table.Th>
              <Table.Th>Account</Table.Th>
              <Table.Th ta="right">Amount</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {data.ledger.map((e) => (
              <Table.Tr key={e.entryId}>
                <Table.Td>
                  <DateTime value={e.createdAt} />
                </Table.Td>
                <Table.Td>{e.kind}</Table.Td>
                <Table.Td>{words(e.account.type)}</Table.Td>
                <Table.Td ta="right">
                  <Money minor={e.amountMinor} currency={e.currency} />
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Card>
  );
}
