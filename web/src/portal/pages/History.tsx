/** Trading history: deals, closed trades and balance records, on every account or one, newest first, page by page. */
import { Badge, NativeSelect, Stack, Table, Text } from '@mantine/core';
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
          <Table.ScrollContainer minWidth={340}>
            <Table striped aria-label="Trading history">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Time</Table.Th>
                  <Table.Th>What</Table.Th>
                  <Table.Th>Profit / amount</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {history.data.items.map((h) => (
                  <Table.Tr key={h.id}>
                    <Table.Td>
                      <DateTime value={h.time} />
                      {showAccount ? (
                        <Text size="xs" c="dimmed">
                          {h.login}{' '}
                          <Badge size="xs" variant="light">
                            {h.platform.toUpperCase()}
                          </Badge>
                        </Text>
                      ) : null}
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm">
                        {typeLabel[h.type]}
                        {h.balanceKind && h.balanceKind !== 'balance' ? ` (${h.balanceKind})` : ''}
                        {h.symbol
                          ? ` · ${[h.side, h.entry, h.volumeLots, h.symbol].filter((x) => x !== null).join(' ')}`
                          : ''}
                        {h.price !== null ? ` @ ${h.price}${h.closePrice !== null ? ` → ${h.closePrice}` : ''}` : ''}
                      </Text>
                      <Text size="xs" c="dimmed">
                        #{h.ticket}
                        {h.comment ? ` · ${h.comment}` : ''}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Money minor={h.type === 'balance' ? h.amountMinor : h.profitMinor} currency={h.currency} />
                      {h.commissionMinor || h.swapMinor ? (
                        <Text size="xs" c="dimmed">
                          {h.commissionMinor ? (
                            <>
                              commission <Money minor={h.commissionMinor} currency={h.currency} />{' '}
                            </>
                          ) : null}
                          {h.swapMinor ? (
                            <>
                              swap <Money minor={h.swapMinor} currency={h.currency} />
                            </>
                          ) : null}
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
