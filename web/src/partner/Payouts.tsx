/**
 * Payouts: what is owed and what can be paid out now (owed less payouts already asked for), a request to one of the
 * partner's trading accounts (the server logins the broker linked to a trading account) or to a wallet, and every
 * payout with its status; a request nobody has decided on yet can be cancelled.
 */
import {
  Button,
  Group,
  NativeSelect,
  Paper,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { type FormEvent, useState } from 'react';
import { api } from '../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, Money, Pager, PageTitle, StatusBadge } from '../ui/components.tsx';
import { formatMoney, parseMoney } from '../ui/money.ts';
import { useAction, useApi } from '../ui/useApi.ts';
import type { Balance, Payout } from './shared/types.ts';

interface ServerLogin {
  id: string;
  serverCode: string;
  login: number;
  payoutsPossible: boolean;
}

const PAGE = 20;
const walletMethods = [
  { value: 'bank_transfer', label: 'Bank transfer' },
  { value: 'crypto', label: 'Crypto' },
  { value: 'e_wallet', label: 'E-wallet' },
];

export function payoutDestination(p: Payout): string {
  if (p.destination === 'trading_account') return `Trading account ${p.login ?? ''} on ${p.serverCode ?? ''}`;
  const method = walletMethods.find((m) => m.value === p.wallet?.method)?.label ?? p.wallet?.method ?? 'Wallet';
  return `${method}: ${p.wallet?.account ?? ''}`;
}

/** What happens next, in words, for a payout's status. */
export function payoutExplanation(p: Payout): string {
  switch (p.status) {
    case 'requested':
      return 'Waiting for the broker’s finance team';
    case 'approved':
      return 'Approved; being paid to the trading account';
    case 'paid':
      return p.destination === 'wallet'
        ? 'Approved; the transfer is made by finance'
        : `Paid${p.ticket ? ` (server ticket ${p.ticket})` : ''}`;
    case 'rejected':
      return `Rejected${p.decisionComment ? `: ${p.decisionComment}` : ''}`;
    case 'failed':
      return `Failed${p.failureReason ? `: ${p.failureReason}` : ''}; the amount is still owed`;
    case 'cancelled':
      return 'Cancelled';
  }
}

function RequestForm({ balances, onDone }: { balances: Balance[]; onDone: () => void }) {
  const logins = useApi<{ items: ServerLogin[] }>('/api/partner/server-logins');
  const [currency, setCurrency] = useState(balances[0]?.currency ?? '');
  const [amount, setAmount] = useState('');
  const [amountError, setAmountError] = useState<string>();
  const [type, setType] = useState<'trading_account' | 'wallet'>('trading_account');
  const [loginId, setLoginId] = useState('');
  const [method, setMethod] = useState('bank_transfer');
  const [account, setAccount] = useState('');
  const [note, setNote] = useState('');
  const action = useAction((body: unknown) => api.post<{ payout: Payout }>('/api/partner/payouts', body));
  const payable = (logins.data?.items ?? []).filter((l) => l.payoutsPossible);
  const chosenLogin = loginId || payable[0]?.id || '';
  const available = balances.find((b) => b.currency === currency)?.availableMinor ?? 0;

  async function submit(event: FormEvent) {
    event.preventDefault();
    const parsed = parseMoney(amount, currency);
    if ('error' in parsed) {
      setAmountError(parsed.error);
      return;
    }
    setAmountError(undefined);
    const destination =
      type === 'trading_account' ? { type, serverLoginId: chosenLogin } : { type, method, account: account.trim() };
    const result = await action.run({
      amountMinor: parsed.minor,
      currency,
      destination,
      ...(note.trim() ? { note: note.trim() } : {}),
    });
    if (result) {
      notifications.show({
        color: 'teal',
        title: 'Payout requested',
        message: `${formatMoney(result.payout.amountMinor, result.payout.currency)} — finance will review it.`,
      });
      setAmount('');
      setNote('');
      onDone();
    }
  }

  return (
    <Paper withBorder p="md">
      <form onSubmit={submit} aria-label="Request a payout">
        <Stack gap="sm">
          <Title order={3}>Request a payout</Title>
          <Group align="flex-start" grow wrap="wrap">
            <NativeSelect
              label="Currency"
              value={currency}
              onChange={(e) => setCurrency(e.currentTarget.value)}
              data={balances.map((b) => b.currency)}
            />
            <TextInput
              label="Amount"
              description={`At most ${formatMoney(available, currency)}`}
              inputMode="decimal"
              value={amount}
              onChange={(e) => setAmount(e.currentTarget.value)}
              error={amountError}
              required
            />
          </Group>
          <div>
            <Text size="sm" fw={500} id="payout-destination-label" mb={4}>
              Pay to
            </Text>
            <SegmentedControl
              aria-labelledby="payout-destination-label"
              value={type}
              onChange={(v) => setType(v as typeof type)}
              data={[
                { value: 'trading_account', label: 'My trading account' },
                { value: 'wallet', label: 'Bank or wallet' },
              ]}
            />
          </div>
          {type === 'trading_account' ? (
            <>
              <ErrorAlert error={logins.error} onRetry={logins.reload} />
              {logins.data && payable.length === 0 ? (
                <Text size="sm" c="dimmed">
                  You have no trading account set up for payouts. Ask your partner manager to link one, or choose a bank
                  or wallet.
                </Text>
              ) : (
                <NativeSelect
                  label="Trading account"
                  value={chosenLogin}
                  onChange={(e) => setLoginId(e.currentTarget.value)}
                  data={payable.map((l) => ({ value: l.id, label: `${l.login} on ${l.serverCode}` }))}
                />
              )}
            </>
          ) : (
            <Group align="flex-start" grow wrap="wrap">
              <NativeSelect
                label="Method"
                value={method}
                onChange={(e) => setMethod(e.currentTarget.value)}
                data={walletMethods}
              />
              <TextInput
                label="Account (IBAN, wallet address…)"
                value={account}
                onChange={(e) => setAccount(e.currentTarget.value)}
                required
                minLength={4}
                maxLength={120}
              />
            </Group>
          )}
          <Textarea
            label="Note (optional)"
            value={note}
            onChange={(e) => setNote(e.currentTarget.value)}
            maxLength={500}
            autosize
            minRows={1}
          />
          <ErrorAlert error={action.error} />
          <Group>
            <Button type="submit" loading={action.pending} disabled={type === 'trading_account' && !chosenLogin}>
              Request payout
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}

export function PayoutsScreen() {
  const [page, setPage] = useState(0);
  const balance = useApi<{ balances: Balance[] }>('/api/partner/commissions/balance');
  const list = useApi<{ items: Payout[]; next: number | null }>('/api/partner/payouts', {
    limit: PAGE,
    offset: page * PAGE,
  });
  const cancel = useAction((id: string) => api.post<{ payout: Payout }>(`/api/partner/payouts/${id}/cancel`));
  const reload = () => {
    balance.reload();
    list.reload();
  };

  return (
    <Stack gap="md">
      <PageTitle>Payouts</PageTitle>
      <ErrorAlert error={balance.error} onRetry={balance.reload} />
      {balance.loading && !balance.data ? <Loading /> : null}
      {balance.data ? (
        balance.data.balances.length === 0 ? (
          <Empty>Nothing is owed to you yet: commission appears here once your clients trade.</Empty>
        ) : (
          <>
            <SimpleGrid cols={{ base: 1, sm: 2, md: 3 }} spacing="sm">
              {balance.data.balances.map((b) => (
                <Paper withBorder p="sm" key={b.currency}>
                  <Text size="xs" c="dimmed">
                    Owed to you ({b.currency})
                  </Text>
                  <Text fw={700} size="lg" data-testid={`owed-${b.currency}`}>
                    <Money minor={b.balanceMinor} currency={b.currency} />
                  </Text>
                  <Text size="sm">
                    Available now:{' '}
                    <b data-testid={`available-${b.currency}`}>
                      <Money minor={b.availableMinor ?? 0} currency={b.currency} />
                    </b>
                  </Text>
                </Paper>
              ))}
            </SimpleGrid>
            <RequestForm balances={balance.data.balances} onDone={reload} />
          </>
        )
      ) : null}

      <Group justify="space-between">
        <Title order={3}>Your payouts</Title>
        <Button variant="default" size="xs" onClick={reload}>
          Refresh
        </Button>
      </Group>
      <ErrorAlert error={list.error ?? cancel.error} onRetry={list.reload} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && list.data.items.length === 0 ? <Empty>No payouts yet.</Empty> : null}
      {list.data && list.data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={720}>
          <Table striped withTableBorder aria-label="Your payouts" data-testid="payouts-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Requested</Table.Th>
                <Table.Th ta="right">Amount</Table.Th>
                <Table.Th>To</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Details</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.data.items.map((p) => (
                <Table.Tr key={p.id} data-payout-id={p.id}>
                  <Table.Td>
                    <DateTime value={p.createdAt} />
                  </Table.Td>
                  <Table.Td ta="right">
                    <Money minor={p.amountMinor} currency={p.currency} />
                  </Table.Td>
                  <Table.Td>{payoutDestination(p)}</Table.Td>
                  <Table.Td data-testid="payout-status">
                    <StatusBadge status={p.status} />
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{payoutExplanation(p)}</Text>
                  </Table.Td>
                  <Table.Td>
                    {p.status === 'requested' ? (
                      <Button
                        size="xs"
                        variant="subtle"
                        color="red"
                        loading={cancel.pending}
                        onClick={async () => {
                          if (await cancel.run(p.id)) reload();
                        }}
                        aria-label={`Cancel the payout of ${formatMoney(p.amountMinor, p.currency)}`}
                      >
                        Cancel
                      </Button>
                    ) : null}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <Pager page={page} hasNext={list.data?.next !== null && list.data?.next !== undefined} onChange={setPage} />
    </Stack>
  );
}
