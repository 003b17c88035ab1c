/**
 * One operation (a write to a trading server): its state, what it carries, what it was made for, every attempt made
 * on the server (post or verify-by-reference, outcome, code, duration, request and reply), its history (who retried
 * or cancelled it), and the two things an operator may do: retry with the SAME reference (looked up on the server
 * first, so it can never be applied twice) or cancel with a reason.
 */
import { Alert, Button, Card, Group, Modal, Stack, Table, Text, Textarea, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useCallback, useState } from 'react';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, Money, StatusBadge } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import { Facts, Json, sentence, To, words } from '../common.tsx';
import { useRefreshWhile } from './bits.tsx';
import { type Operation, type OperationDetailBody, operationMoving } from './types.ts';

const retryable = ['needs_review', 'failed'];
const cancellable = ['pending', 'waiting', 'needs_review', 'failed'];

export function OperationDetail({ id }: { id: string }) {
  const { can } = useStaff();
  const { data, error, loading, reload } = useApi<OperationDetailBody>(`/api/backoffice/operations/${id}`);
  useRefreshWhile(!!data && operationMoving.includes(data.operation.status), reload);
  const [confirming, setConfirming] = useState<'retry' | 'cancel' | null>(null);

  if (error && !data) return <ErrorAlert error={error} onRetry={reload} />;
  if (!data) return <Loading />;
  const op = data.operation;
  const canRetry = can('operations.retry') && retryable.includes(op.status);
  const canCancel = can('operations.cancel') && cancellable.includes(op.status);
  const payload = op.payload as { amount?: number; currency?: string } | null;
  return (
    <Stack gap="md" data-testid="operation-detail">
      <Group justify="space-between" align="flex-start" wrap="wrap">
        <Stack gap={4}>
          <Title order={3} style={{ overflowWrap: 'anywhere' }}>
            {sentence(op.kind)} {op.reference}
          </Title>
          <Text size="sm" c="dimmed">
            on {op.serverCode}
            {op.login ? ` · login ${op.login}` : ''}
          </Text>
        </Stack>
        <Group gap="xs">
          <span data-testid="operation-status">
            <StatusBadge status={op.status} />
          </span>
          <Button size="xs" variant="default" onClick={reload} loading={loading}>
            Refresh
          </Button>
        </Group>
      </Group>
      {error ? <ErrorAlert error={error} onRetry={reload} /> : null}
      {op.status === 'needs_review' ? (
        <Alert color="orange" title="Needs review" data-testid="needs-review">
          The engine stopped trying: {op.lastError?.message ?? 'see the attempts below'}. Check the attempt log (and the
          server) before retrying. A retry keeps the reference {op.reference} and looks it up on the server first, so it
          can never be applied twice.
        </Alert>
      ) : null}
      <Card withBorder>
        <Facts
          items={[
            ['Status', words(op.status)],
            ['Attempts', String(op.attempts)],
            [
              'Amount',
              payload && typeof payload.amount === 'number' && payload.currency ? (
                <Money key="a" minor={payload.amount} currency={payload.currency} />
              ) : null,
            ],
            ['Server ticket', op.ticket],
            ['Created', <DateTime key="c" value={op.createdAt} />],
            ['Last change', <DateTime key="u" value={op.updatedAt} />],
            [
              'Next attempt',
              operationMoving.includes(op.status) ? <DateTime key="n" value={op.nextAttemptAt} /> : null,
            ],
            ['Finished', op.finishedAt ? <DateTime key="f" value={op.finishedAt} /> : null],
            ['Requested by', op.requestedBy],
            ['Last error', op.lastError?.message ?? null],
            [
              'Made for',
              data.movement ? (
                <To key="m" to={`/backoffice/movements/${data.movement.id}`}>
                  {words(data.movement.kind)} of{' '}
                  <Money minor={data.movement.amountMinor} currency={data.movement.currency} /> (
                  {words(data.movement.status)})
                </To>
              ) : (
                op.handler
              ),
            ],
            [
              'Client',
              data.account ? (
                <To key="cl" to={`/backoffice/clients/${data.account.clientId}/profile`}>
                  open the client
                </To>
              ) : null,
            ],
          ]}
        />
        <Group mt="sm" gap="lg">
          <Json value={op.payload} summary="Payload" />
          <Json value={op.result} summary="Result" />
          <Json value={op.lastError} summary="Last error" />
        </Group>
      </Card>
      {canRetry || canCancel ? (
        <Group>
          {canRetry ? (
            <Button color="orange" onClick={() => setConfirming('retry')}>
              Retry with the same reference
            </Button>
          ) : null}
          {canCancel ? (
            <Button color="red" variant="light" onClick={() => setConfirming('cancel')}>
              Cancel operation
            </Button>
          ) : null}
        </Group>
      ) : null}
      <OperationAction
        operation={op}
        mode={confirming}
        onClose={() => setConfirming(null)}
        onDone={() => {
          setConfirming(null);
          reload();
        }}
      />
      <AttemptLog attempts={data.attempts} />
      <Card withBorder>
        <Title order={4} mb="xs">
          History
        </Title>
        {data.history.length === 0 ? (
          <Empty>No changes recorded yet.</Empty>
        ) : (
          <Table.ScrollContainer minWidth={480}>
            <Table aria-label="Operation history" data-testid="operation-history">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>When</Table.Th>
                  <Table.Th>What</Table.Th>
                  <Table.Th>By</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.history.map((h) => (
                  <Table.Tr key={h.id}>
                    <Table.Td>
                      <DateTime value={h.at} />
                    </Table.Td>
                    <Table.Td>
                      {words(h.action.replace(/^operation\./, ''))}
                      <Json value={h.after} />
                    </Table.Td>
                    <Table.Td>
                      {h.actorName ?? (h.actorType === 'system' ? 'the engine' : (h.actorId ?? h.actorType))}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Card>
    </Stack>
  );
}

function OperationAction({
  operation,
  mode,
  onClose,
  onDone,
}: {
  operation: Operation;
  mode: 'retry' | 'cancel' | null;
  onClose: () => void;
  onDone: () => void;
}) {
  const [reason, setReason] = useState('');
  const perform = useCallback(
    () =>
      mode === 'retry'
        ? api.post<Operation>(`/api/backoffice/operations/${operation.id}/retry`)
        : api.post<Operation>(`/api/backoffice/operations/${operation.id}/cancel`, { reason: reason.trim() }),
    [mode, operation.id, reason],
  );
  const action = useAction(perform);
  async function confirm() {
    const result = await action.run();
    if (result) {
      notifications.show({
        color: mode === 'retry' ? 'orange' : 'gray',
        message:
          mode === 'retry'
            ? `${result.reference} queued again (${words(result.status)}); the server is checked for it first.`
            : `${result.reference} cancelled.`,
      });
      setReason('');
      onDone();
    }
  }
  return (
    <Modal
      opened={mode !== null}
      onClose={() => {
        action.clearError();
        onClose();
      }}
      title={mode === 'retry' ? 'Retry with the same reference' : 'Cancel this operation'}
    >
      <Stack gap="sm">
        {mode === 'retry' ? (
          <Text size="sm">
            {operation.reference} goes back to the queue with the same reference. Before anything is sent again the
            engine looks the reference up on {operation.serverCode}: if an earlier attempt reached the server, the
            operation is marked done without a second posting.
          </Text>
        ) : (
          <>
            <Text size="sm">
              Only cancel what you have checked did not reach the server. The module that asked for it is told, and the
              reason is kept in the audit trail.
            </Text>
            <Textarea
              label="Reason"
              description="At least three characters."
              value={reason}
              onChange={(e) => setReason(e.currentTarget.value)}
              maxLength={500}
              required
              autosize
              minRows={2}
            />
          </>
        )}
        <ErrorAlert error={action.error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Back
          </Button>
          <Button color={mode === 'retry' ? 'orange' : 'red'} onClick={confirm} loading={action.pending}>
            {mode === 'retry' ? 'Confirm retry' : 'Confirm cancel'}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

export function AttemptLog({ attempts }: { attempts: OperationDetailBody['attempts'] }) {
  return (
    <Card withBorder>
      <Title order={4} mb="xs">
        Attempt log
      </Title>
      {attempts.length === 0 ? (
        <Empty>No call has been made to the server yet.</Empty>
      ) : (
        <Table.ScrollContainer minWidth={720}>
          <Table striped aria-label="Attempt log" data-testid="attempt-log">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>#</Table.Th>
                <Table.Th>Started</Table.Th>
                <Table.Th>Action</Table.Th>
                <Table.Th>Outcome</Table.Th>
                <Table.Th>Code / server text</Table.Th>
                <Table.Th ta="right">Duration</Table.Th>
                <Table.Th>Worker</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {attempts.map((a) => (
                <Table.Tr key={a.id} data-outcome={a.outcome}>
                  <Table.Td>{a.attempt}</Table.Td>
                  <Table.Td>
                    <DateTime value={a.startedAt} />
                  </Table.Td>
                  <Table.Td>{a.action === 'verify' ? 'verify by reference' : 'post'}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={a.outcome} />
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">
                      {a.code ?? ''} {a.serverText ?? ''}
                    </Text>
                    <Group gap="md">
                      <Json value={a.request} summary="Request" />
                      <Json value={a.reply} summary="Reply" />
                    </Group>
                  </Table.Td>
                  <Table.Td ta="right">{a.durationMs} ms</Table.Td>
                  <Table.Td>
                    <Text size="xs" c="dimmed">
                      {a.worker}
                    </Text>
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
