/**
 * Trading history: deals, closed trades and balance records (finished orders when asked for), on every account or one,
 * newest first, page by page; and the orders still waiting on the trading server.
 */
import { Badge, NativeSelect, Stack, Table, Text } from '@mantine/core';
import { useState } from 'react';
import { DateTime, Empty, ErrorAlert, Loading, Money, Pager, PageTitle } from '../../ui/components.tsx';
import { useApi } from '../../ui/useApi.ts';
import { Section, useAccounts } from '../components.tsx';
import {
  accountLabel,
  type HistoryItem,
  lotsLabel,
  type OpenOrder,
  orderStateLabel,
  orderWords,
  type HistoryPage as Page,
} from '../types.ts';

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
      <Section title="Open orders">
        <OpenOrdersTable key={accountId} accountId={accountId || undefined} showAccount={!accountId} />
      </Section>
    </Stack>
  );
}

const typeLabel: Record<HistoryItem['type'], string> = {
  deal: 'Deal',
  closed_trade: 'Closed trade',
  balance: 'Balance',
  order: 'Order',
};

/** The lots of an order that were filled before it ended, when some were and some were not. */
function partFilled(o: { volumeLots: number | null; volumeRemainingLots: number | null }): number | null {
  if (o.volumeLots === null || !o.volumeRemainingLots || o.volumeRemainingLots >= o.volumeLots) return null;
  return Math.round((o.volumeLots - o.volumeRemainingLots) * 10_000) / 10_000;
}

/** Stop loss and take profit as set on an order (0 or null: not set). */
function stops(o: { stopLoss: number | null; takeProfit: number | null }): string {
  return [o.stopLoss ? `stop loss ${o.stopLoss}` : '', o.takeProfit ? `take profit ${o.takeProfit}` : '']
    .filter(Boolean)
    .join(' · ');
}

function AccountLine({ login, platform }: { login: number; platform: 'mt4' | 'mt5' }) {
  return (
    <Text size="xs" c="dimmed">
      {login}{' '}
      <Badge size="xs" variant="light">
        {platform.toUpperCase()}
      </Badge>
    </Text>
  );
}

function OrderText({ h }: { h: HistoryItem }) {
  const filled = partFilled(h);
  const extra = stops(h);
  return (
    <>
      <Text size="sm">
        {orderWords(h)} — {orderStateLabel(h.orderState)}
        {filled !== null ? ` (${lotsLabel(filled)} filled)` : ''}
      </Text>
      <Text size="xs" c="dimmed">
        #{h.ticket}
        {extra ? ` · ${extra}` : ''}
        {h.comment ? ` · ${h.comment}` : ''}
      </Text>
    </>
  );
}

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
          { value: 'order', label: 'Orders (filled, cancelled, expired)' },
        ]}
        maw={320}
      />
      {history.error ? <ErrorAlert error={history.error} onRetry={history.reload} /> : null}
      {!history.data && history.loading ? <Loading /> : null}
      {history.data && history.data.items.length === 0 ? (
        <Empty>{type === 'order' ? 'No finished orders yet.' : 'No trading history yet.'}</Empty>
      ) : null}
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
                  <Table.Th>{type === 'order' ? 'Outcome' : 'Profit / amount'}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {history.data.items.map((h) => (
                  <Table.Tr key={h.id}>
                    <Table.Td>
                      <DateTime value={h.time} />
                      {showAccount ? <AccountLine login={h.login} platform={h.platform} /> : null}
                    </Table.Td>
                    {h.type === 'order' ? (
                      <>
                        <Table.Td>
                          <OrderText h={h} />
                        </Table.Td>
                        <Table.Td>
                          <Text size="sm">{orderStateLabel(h.orderState)}</Text>
                        </Table.Td>
                      </>
                    ) : (
                      <>
                        <Table.Td>
                          <Text size="sm">
                            {typeLabel[h.type]}
                            {h.balanceKind && h.balanceKind !== 'balance' ? ` (${h.balanceKind})` : ''}
                            {h.symbol
                              ? ` · ${[h.side, h.entry, h.volumeLots, h.symbol].filter((x) => x !== null).join(' ')}`
                              : ''}
                            {h.price !== null
                              ? ` @ ${h.price}${h.closePrice !== null ? ` → ${h.closePrice}` : ''}`
                              : ''}
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
                      </>
                    )}
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

/**
 * Orders waiting on the trading server (pending, or partly filled), as trade sync last listed them, oldest first; one
 * account's when `accountId` is given. The API lists them all at once; the table pages them like the history.
 */
export function OpenOrdersTable({ accountId, showAccount }: { accountId?: string; showAccount: boolean }) {
  const [page, setPage] = useState(0);
  const orders = useApi<{ items: OpenOrder[] }>('/api/portal/orders');
  const items = (orders.data?.items ?? []).filter((o) => !accountId || o.tradingAccountId === accountId);
  const shown = items.slice(page * PAGE, (page + 1) * PAGE);
  const listedAt = items.reduce<string | null>((at, o) => (at === null || o.updatedAt > at ? o.updatedAt : at), null);
  return (
    <Stack gap="xs">
      <Text size="sm" c="dimmed">
        Pending orders waiting on the trading server: they have not traded yet.
      </Text>
      {orders.error ? <ErrorAlert error={orders.error} onRetry={orders.reload} /> : null}
      {!orders.data && orders.loading ? <Loading /> : null}
      {orders.data && items.length === 0 ? <Empty>No open orders.</Empty> : null}
      {shown.length > 0 ? (
        <>
          <Text size="xs" c="dimmed">
            {items.length} open order{items.length === 1 ? '' : 's'}
            {listedAt ? (
              <>
                {' '}
                · as of <DateTime value={listedAt} />
              </>
            ) : null}
          </Text>
          <Table.ScrollContainer minWidth={300}>
            <Table striped aria-label="Open orders">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Placed</Table.Th>
                  <Table.Th>Order</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {shown.map((o) => {
                  const filled = partFilled(o);
                  const extra = stops(o);
                  return (
                    <Table.Tr key={`${o.server}:${o.ticket}`}>
                      <Table.Td>
                        <DateTime value={o.setupTime} />
                        {showAccount ? <AccountLine login={o.login} platform={o.platform} /> : null}
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm">
                          {orderWords(o)} — {orderStateLabel(o.state)}
                          {filled !== null
                            ? ` (${lotsLabel(filled)} filled, ${lotsLabel(o.volumeRemainingLots)} left)`
                            : ''}
                        </Text>
                        <Text size="xs" c="dimmed">
                          #{o.ticket}
                          {o.triggerPrice ? ` · triggers at ${o.triggerPrice}` : ''}
                          {extra ? ` · ${extra}` : ''}
                          {o.expiration ? (
                            <>
                              {' '}
                              · expires <DateTime value={o.expiration} />
                            </>
                          ) : (
                            ' · until cancelled'
                          )}
                          {o.comment ? ` · ${o.comment}` : ''}
                        </Text>
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Pager page={page} hasNext={(page + 1) * PAGE < items.length} onChange={setPage} />
        </>
      ) : null}
    </Stack>
  );
}
