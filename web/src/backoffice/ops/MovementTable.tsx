/** A page of money movements: when, what, whose, how much, where it stands; each opens its detail. */
import { Table, Text } from '@mantine/core';
import { DateTime, Money, StatusBadge } from '../../ui/components.tsx';
import { sentence, To } from '../common.tsx';
import type { ApprovalQueueItem, Movement } from './types.ts';

export function MovementTable({
  items,
  linkTo,
  label,
  showClient = true,
}: {
  items: (Movement | ApprovalQueueItem)[];
  linkTo: (m: Movement) => string;
  label: string;
  showClient?: boolean;
}) {
  const withApprovals = items.some((m) => 'approvals' in m);
  return (
    <Table.ScrollContainer minWidth={720}>
      <Table striped highlightOnHover withTableBorder aria-label={label} data-testid="movements-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Created</Table.Th>
            <Table.Th>Movement</Table.Th>
            {showClient ? <Table.Th>Client</Table.Th> : null}
            <Table.Th>Account</Table.Th>
            <Table.Th ta="right">Amount</Table.Th>
            <Table.Th>Status</Table.Th>
            {withApprovals ? <Table.Th>Approvals</Table.Th> : null}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {items.map((m) => (
            <Table.Tr key={m.id} data-movement={m.id}>
              <Table.Td>
                <DateTime value={m.createdAt} />
              </Table.Td>
              <Table.Td>
                <To to={linkTo(m)} label={`Open ${m.kind} ${m.id}`}>
                  {sentence(m.kind)} {m.direction === 'in' ? 'in' : 'out'}
                </To>
              </Table.Td>
              {showClient ? (
                <Table.Td>
                  <Text size="sm">{m.clientName ?? '—'}</Text>
                  <Text size="xs" c="dimmed">
                    {m.clientEmail}
                  </Text>
                </Table.Td>
              ) : null}
              <Table.Td>{m.login ? `${m.login} · ${m.serverCode}` : '—'}</Table.Td>
              <Table.Td ta="right">
                <Money minor={m.amountMinor} currency={m.currency} />
              </Table.Td>
              <Table.Td>
                <StatusBadge status={m.status} />
              </Table.Td>
              {withApprovals ? (
                <Table.Td>
                  {'approvals' in m
                    ? `${m.approvals.filter((a) => a.decision === 'approve').length} of ${m.approvalsRequired}${
                        m.approvals.length ? ` (${m.approvals.map((a) => a.staffName ?? 'staff').join(', ')})` : ''
                      }`
                    : null}
                </Table.Td>
              ) : null}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
