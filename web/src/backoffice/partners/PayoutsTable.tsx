/**
 * IB payouts with their decision: finance (commissions.payout.approve) approves or rejects with a reason. The API
 * enforces maker-checker (whoever asked can never approve); the screen says so before anyone tries.
 */
import { Anchor, Button, Group, Modal, Stack, Table, Text, Textarea } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';
import { api } from '../../api.ts';
import { payoutDestination, payoutExplanation } from '../../partner/Payouts.tsx';
import { DateTime, ErrorAlert, Money, StatusBadge } from '../../ui/components.tsx';
import { formatMoney } from '../../ui/money.ts';
import { useAction } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import type { BackofficePayout } from './types.ts';

function DecisionModal({
  payout,
  decision,
  onClose,
  onDone,
}: {
  payout: BackofficePayout;
  decision: 'approve' | 'reject';
  onClose: () => void;
  onDone: () => void;
}) {
  const [comment, setComment] = useState('');
  const action = useAction((body: { decision: string; comment?: string }) =>
    api.post<{ payout: BackofficePayout }>(`/api/backoffice/ib-payouts/${payout.id}/decision`, body),
  );
  async function submit(event: FormEvent) {
    event.preventDefault();
    const result = await action.run({ decision, ...(comment.trim() ? { comment: comment.trim() } : {}) });
    if (result) {
      notifications.show({
        color: decision === 'approve' ? 'teal' : 'orange',
        title: decision === 'approve' ? 'Payout approved' : 'Payout rejected',
        message: `${formatMoney(result.payout.amountMinor, result.payout.currency)}: ${result.payout.status.replaceAll('_', ' ')}`,
      });
      onDone();
    }
  }
  return (
    <Modal opened onClose={onClose} title={decision === 'approve' ? 'Approve the payout' : 'Reject the payout'}>
      <form onSubmit={submit}>
        <Stack gap="sm">
          <Text size="sm">
            <Money minor={payout.amountMinor} currency={payout.currency} /> to {payout.partnerName ?? 'the partner'}:{' '}
            {payoutDestination(payout)}.
          </Text>
          {decision === 'approve' ? (
            <Text size="sm" c="dimmed">
              {payout.destination === 'trading_account'
                ? 'Approving sends a balance operation to the trading server; the payout is paid when the server confirms it.'
                : 'Approving records the payout as paid from what the broker owes; make the transfer outside Brokerdesk.'}
            </Text>
          ) : null}
          <Textarea
            label={decision === 'reject' ? 'Reason (the partner sees it)' : 'Comment (optional)'}
            value={comment}
            onChange={(e) => setComment(e.currentTarget.value)}
            required={decision === 'reject'}
            minLength={decision === 'reject' ? 3 : undefined}
            maxLength={500}
            autosize
            minRows={2}
          />
          <ErrorAlert error={action.error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Back
            </Button>
            <Button type="submit" color={decision === 'approve' ? 'teal' : 'red'} loading={action.pending}>
              {decision === 'approve' ? 'Approve' : 'Reject'}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

export function PayoutsTable({
  items,
  onChanged,
  showPartner = true,
}: {
  items: BackofficePayout[];
  onChanged: () => void;
  showPartner?: boolean;
}) {
  const { me, can } = useStaff();
  const [deciding, setDeciding] = useState<{ payout: BackofficePayout; decision: 'approve' | 'reject' } | null>(null);
  const mayDecide = can('commissions.payout.approve');
  return (
    <>
      <Table.ScrollContainer minWidth={900}>
        <Table striped withTableBorder aria-label="IB payouts" data-testid="ib-payouts-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Requested</Table.Th>
              {showPartner ? <Table.Th>Partner</Table.Th> : null}
              <Table.Th ta="right">Amount</Table.Th>
              <Table.Th>To</Table.Th>
              <Table.Th>Asked by</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Decision</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((p) => {
              const ownRequest = p.requestedByType === 'staff' && p.requestedById === me.staff.id;
              return (
                <Table.Tr key={p.id} data-payout-id={p.id}>
                  <Table.Td>
                    <DateTime value={p.createdAt} />
                  </Table.Td>
                  {showPartner ? (
                    <Table.Td>
                      <Anchor component={Link} to={`/backoffice/partners/${p.partnerId}/payouts`} size="sm">
                        {p.partnerName ?? p.partnerId}
                      </Anchor>
                      <Text size="xs" c="dimmed">
                        {p.partnerEmail}
                      </Text>
                    </Table.Td>
                  ) : null}
                  <Table.Td ta="right">
                    <Money minor={p.amountMinor} currency={p.currency} />
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{payoutDestination(p)}</Text>
                    {p.wallet?.note ? (
                      <Text size="xs" c="dimmed">
                        Note: {p.wallet.note}
                      </Text>
                    ) : null}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">
                      {p.requestedByType === 'partner' ? 'the partner' : (p.requestedByName ?? 'staff')}
                    </Text>
                  </Table.Td>
                  <Table.Td data-testid="payout-status">
                    <StatusBadge status={p.status} />
                  </Table.Td>
                  <Table.Td>
                    {p.status === 'requested' && mayDecide ? (
                      ownRequest ? (
                        <Text size="xs" c="dimmed">
                          You asked for it: another staff member decides
                        </Text>
                      ) : (
                        <Group gap="xs" wrap="nowrap">
                          <Button
                            size="xs"
                            color="teal"
                            onClick={() => setDeciding({ payout: p, decision: 'approve' })}
                          >
                            Approve
                          </Button>
                          <Button
                            size="xs"
                            variant="light"
                            color="red"
                            onClick={() => setDeciding({ payout: p, decision: 'reject' })}
                          >
                            Reject
                          </Button>
                        </Group>
                      )
                    ) : (
                      <>
                        <Text size="sm">{payoutExplanation(p)}</Text>
                        {p.decidedAt ? (
                          <Text size="xs" c="dimmed">
                            {p.decidedByName ?? 'staff'}, <DateTime value={p.decidedAt} />
                          </Text>
                        ) : null}
                      </>
                    )}
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {deciding ? (
        <DecisionModal
          payout={deciding.payout}
          decision={deciding.decision}
          onClose={() => setDeciding(null)}
          onDone={() => {
            setDeciding(null);
            onChanged();
          }}
        />
      ) : null}
    </>
  );
}
