/** A partner's payouts, with the decision for finance, and a request on the partner's behalf for partner managers. */
import { Button, Group, NativeSelect, Paper, SegmentedControl, Stack, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { type FormEvent, useState } from 'react';
import { api } from '../../api.ts';
import type { Balance } from '../../partner/shared/types.ts';
import { Empty, ErrorAlert, Loading, Money, Pager } from '../../ui/components.tsx';
import { formatMoney, parseMoney } from '../../ui/money.ts';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import { PayoutsTable } from './PayoutsTable.tsx';
import type { BackofficePayout, ServerLogin } from './types.ts';

const PAGE = 20;

function RequestOnBehalf({
  partnerId,
  balances,
  onDone,
}: {
  partnerId: string;
  balances: Balance[];
  onDone: () => void;
}) {
  const logins = useApi<{ items: ServerLogin[] }>(`/api/backoffice/partners/${partnerId}/server-logins`);
  const linked = (logins.data?.items ?? []).filter((l) => l.tradingAccountId);
  const [currency, setCurrency] = useState(balances[0]?.currency ?? 'USD');
  const [amount, setAmount] = useState('');
  const [amountError, setAmountError] = useState<string>();
  const [type, setType] = useState<'trading_account' | 'wallet'>('wallet');
  const [loginId, setLoginId] = useState('');
  const [method, setMethod] = useState('bank_transfer');
  const [account, setAccount] = useState('');
  const action = useAction((body: unknown) => api.post(`/api/backoffice/partners/${partnerId}/payouts`, body));
  const chosenLogin = loginId || linked[0]?.id || '';

  async function submit(event: FormEvent) {
    event.preventDefault();
    const parsed = parseMoney(amount, currency);
    if ('error' in parsed) {
      setAmountError(parsed.error);
      return;
    }
    setAmountError(undefined);
    const ok = await action.run({
      amountMinor: parsed.minor,
      currency,
      destination:
        type === 'trading_account' ? { type, serverLoginId: chosenLogin } : { type, method, account: account.trim() },
    });
    if (ok) {
      notifications.show({
        color: 'teal',
        message: `Payout of ${formatMoney(parsed.minor, currency)} requested; another staff member decides.`,
      });
      setAmount('');
      onDone();
    }
  }

  return (
    <Paper withBorder p="md">
      <form onSubmit={submit} aria-label="Request a payout on the partner's behalf">
        <Stack gap="sm">
          <Title order={4}>Request on the partner's behalf</Title>
          <Text size="xs" c="dimmed">
            You will not be able to approve it yourself.
          </Text>
          <Group grow align="flex-start" wrap="wrap">
            <NativeSelect
              label="Currency"
              value={currency}
              onChange={(e) => setCurrency(e.currentTarget.value)}
              data={balances.length ? balances.map((b) => b.currency) : ['USD']}
            />
            <TextInput
              label="Amount"
              inputMode="decimal"
              value={amount}
              onChange={(e) => setAmount(e.currentTarget.value)}
              error={amountError}
              required
            />
          </Group>
          <SegmentedControl
            aria-label="Pay to"
            value={type}
            onChange={(v) => setType(v as typeof type)}
            data={[
              { value: 'wallet', label: 'Bank or wallet' },
              { value: 'trading_account', label: 'Trading account' },
            ]}
          />
          {type === 'trading_account' ? (
            linked.length === 0 ? (
              <Text size="sm" c="dimmed">
                No server login of this partner is linked to a trading account (see Server logins).
              </Text>
            ) : (
              <NativeSelect
                label="Trading account"
                value={chosenLogin}
                onChange={(e) => setLoginId(e.currentTarget.value)}
                data={linked.map((l) => ({ value: l.id, label: `${l.login} on ${l.serverCode}` }))}
              />
            )
          ) : (
            <Group grow align="flex-start" wrap="wrap">
              <NativeSelect
                label="Method"
                value={method}
                onChange={(e) => setMethod(e.currentTarget.value)}
                data={[
                  { value: 'bank_transfer', label: 'Bank transfer' },
                  { value: 'crypto', label: 'Crypto' },
                  { value: 'e_wallet', label: 'E-wallet' },
                ]}
              />
              <TextInput
                label="Account (IBAN, wallet address…)"
                value={account}
                onChange={(e) => setAccount(e.currentTarget.value)}
                required
              />
            </Group>
          )}
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

export function PartnerPayouts({ partnerId }: { partnerId: string }) {
  const { can } = useStaff();
  const [page, setPage] = useState(0);
  const list = useApi<{ items: BackofficePayout[]; next: number | null }>('/api/backoffice/ib-payouts', {
    partnerId,
    limit: PAGE,
    offset: page * PAGE,
  });
  const owed = useApi<{ balances: Balance[] }>(`/api/backoffice/partners/${partnerId}/commission-statement`, {
    from: new Date(Date.now() - 86_400_000).toISOString(),
    to: new Date(Date.now() + 86_400_000).toISOString(),
  });
  const reload = () => {
    list.reload();
    owed.reload();
  };
  return (
    <Stack gap="md">
      {owed.data ? (
        <Text size="sm">
          Owed to the partner:{' '}
          {owed.data.balances.length === 0
            ? 'nothing'
            : owed.data.balances.map((b, i) => (
                <span key={b.currency}>
                  {i ? ', ' : ''}
                  <Money minor={b.balanceMinor} currency={b.currency} />
                </span>
              ))}
        </Text>
      ) : null}
      <ErrorAlert error={list.error ?? owed.error} onRetry={reload} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && list.data.items.length === 0 ? <Empty>No payouts.</Empty> : null}
      {list.data && list.data.items.length > 0 ? (
        <PayoutsTable items={list.data.items} onChanged={reload} showPartner={false} />
      ) : null}
      <Pager page={page} hasNext={list.data?.next !== null && list.data?.next !== undefined} onChange={setPage} />
      {can('commissions.manage') && owed.data ? (
        <RequestOnBehalf partnerId={partnerId} balances={owed.data.balances} onDone={reload} />
      ) : null}
    </Stack>
  );
}
