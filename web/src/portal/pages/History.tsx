/** Trading history: deals, closed trades and balance records, on every account or one, newest first, page by page. */
import { Badge, Group, NativeSelect, Stack, Table, Text } from '@mantine/core';
import { useState } from 'react';
import { DateTime, Empty, ErrorAlert, Loading, Money, Pager, PageTitle } from '../../ui/components.tsx';
import { useApi } from '../../ui/useApi.ts';
import { Section, useAccounts } from '../components.tsx';
import { accountLabel, type HistoryItem, type HistoryPage as Page } from '../types.ts';

const PAGE = 25;

export function HistoryPage() {
  const accounts = useAccounts();
  const [accountId, setAccountId] = useState('');
  const withLogin = (accounts.data?.items ?? []).filter((a) => a.login !== null);
  return (
    <Stack>
      <PageTitle>Trading history</PageTitle>
      {accounts.error ? <ErrorAlert error={accounts.error} onRetry={accounts.reload} /> : null}
      <Section title={accountId ? 'One account' : 'All accounts'}>
        <Stack>
          <NativeSelect
            label="Account"
            value={accountId}
            onChange={(e) => setAccountId(e.currentTarget.value)}
            data={[
              { value: '', label: 'All accounts' },
              ...withLogin.map((a) => ({ value: a.id, label: accountLabel(a) })),
            ]}
            maw={420}
          />
          <HistoryTable
            key={accountId}
            path={accountId ? `/api/portal/accounts/${accountId}/history` : '/api/portal/history'}
            showAccount={!accountId}
          />
        </Stack>
      </Section>
    </Stack>
  );
}

const typeLabel: Record<HistoryItem['type'], string> = {
  deal: 'Deal',
  closed_trade: 'Closed trade',
  balance: 'Balance',
};

export function HistoryTable({ path, showAccount }: { path: string; showAccount: boolean }) {
  const [page, setPage] = useState(0);
  const [type, setType] = useState('');
  const history = useApi<Page>(path, { limit: PAGE, offset: page * PAGE, type: type || undefined });
  return (
    <Stack gap="xs">
      <NativeSelect
        label="Show"
        value={type}
        onChange={(e) => {
          setType(e.currentTarget.value);
          setPage(0);
        }}
        data={[
          { value: '', label: 'Everything' },
          { value: 'deal', label: 'Deals (MT5)' },
          { value: 'closed_trade', label: 'Closed trades (MT4)' },
          { value: 'balance', label: 'Balance records' },
        ]}
        maw={260}
      />
      {history.error ? <ErrorAlert error={history.error} onRetry={history.reload} /> : null}
      {!history.data && history.loading ? <Loading /> : null}
      {history.data && history.data.items.length === 0 ? <Empty>No trading history yet.</Empty> : null}
      {history.data?.items.length ? (
        <>
          <Text size="xs" c="dimmed">
            {history.data.total} record{history.data.total === 1 ? '' : 's'}
          </Text>
          <Table.ScrollContainer minWidth={760}>
            <Table striped aria-label="Trading history">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Time</Table.Th>
                  {showAccount ? <Table.Th>Account</Table.Th> : null}
                  <Table.Th>Type</Table.Th>
                  <Table.Th>Symbol</Table.Th>
                  <Table.Th>Side</Table.Th>
                  <Table.Th>Lots</Table.Th>
                  <Table.Th>Price</Table.Th>
                  <Table.Th>Profit / amount</Table.Th>
                  <Table.Th>Ticket</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {history.data.items.map((h) => (
                  <Table.Tr key={h.id}>
                    <Table.Td>
                      <DateTime value={h.time} />
                    </Table.Td>
                    {showAccount ? (
                      <Table.Td>
                        {h.login}{' '}
                        <Badge size="xs" variant="light">
                          {h.platform.toUpperCase()}
                        </Badge>
                      </Table.Td>
                    ) : null}
                    <Table.Td>
                      {typeLabel[h.type]}
                      {h.balanceKind && h.balanceKind !== 'balance' ? ` (${h.balanceKind})` : ''}
                    </Table.Td>
                    <Table.Td>{h.symbol ?? '—'}</Table.Td>
                    <Table.Td>
                      {h.side ?? '—'}
                      {h.entry ? ` ${h.entry}` : ''}
                    </Table.Td>
                    <Table.Td>{h.volumeLots ?? '—'}</Table.Td>
                    <Table.Td>
                      {h.price ?? '—'}
                      {h.closePrice !== null ? ` → ${h.closePrice}` : ''}
                    </Table.Td>
                    <Table.Td>
                      <Money minor={h.type === 'balance' ? h.amountMinor : h.profitMinor} currency={h.currency} />
                    </Table.Td>
                    <Table.Td>
                      <Group gap={4} wrap="nowrap">
                        <Text size="sm">{h.ticket}</Text>
                      </Group>
                      {h.comment ? (
                        <Text size="xs" c="dimmed">
                          {h.comment}
                        </Text>
                      ) : null}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Pager page={page} hasNext={(page + 1) * PAGE < history.data.total} onChange={setPage} />
        </>
      ) : null}
    </Stack>
  );
}
